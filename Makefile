# The README's two commands live here: `make run` and `make test`.
SHELL := /bin/bash
VENV  := .venv
PORT  ?= 3000
HOST  ?= 127.0.0.1
EMULATOR_PORT ?= 4566
CARGO ?= cargo

.PHONY: run test venv node nasm debs fmt clippy cfn-lint checkov bench build deploy clean

## run: the whole API on http://127.0.0.1:$(PORT) against a local AWS emulator (Ctrl-C stops it)
run: venv nasm
	$(CARGO) build -p local-stack
	PORT=$(PORT) HOST=$(HOST) EMULATOR_PORT=$(EMULATOR_PORT) ./target/debug/local-stack

# Clippy's lints run inside the test build itself (clippy-driver wraps rustc for the workspace's
# own crates, as `cargo clippy` does): one compilation of everything instead of a check pass and
# a build pass. Any warning, rustc's or clippy's, fails the build.
LINTED := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-Dwarnings__CLIPPY_HACKERY__

## test: formatting, cfn-lint, clippy with the test build, then every test against a moto server
## started and stopped here
test: venv node debs fmt cfn-lint checkov
	$(LINTED) $(CARGO) test --workspace --all-targets --no-run
	# shared alone, without its `images` feature: what the account functions build.
	$(CARGO) clippy -p shared --lib -- -D warnings
	$(LINTED) ./infra/local/with-moto.sh $(CARGO) test --workspace

venv: $(VENV)/.installed

## checkov: template.yaml's security checks; .checkov.yaml names each skipped check and why
CHECKOV := $(VENV)/checkov
checkov: $(CHECKOV)/.installed
	$(CHECKOV)/bin/checkov -f template.yaml --config-file .checkov.yaml --compact --quiet --skip-download

$(CHECKOV)/.installed: infra/local/requirements-checkov.txt
	python3 -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements-checkov.txt
	touch $@

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

## nasm: assembles libjpeg-turbo's x86 SIMD when mozjpeg-sys builds (without it, JPEG encoding
## is several times slower; ARM builds need no assembler)
nasm:
	@command -v nasm >/dev/null || { $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nasm; }

## debs: the Debian packages the build and tests use: nasm (libjpeg-turbo's x86 SIMD, built from
## source by mozjpeg-sys), ffmpeg (ffprobe checks the videos made), chromium and chromium-driver
## (the web pages are tested in a real browser)
debs:
	@{ command -v nasm && command -v ffprobe && command -v chromium && command -v chromedriver; } >/dev/null || { \
	  $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	  --no-install-recommends nasm ffmpeg chromium chromium-driver; }

## node: Prism (validates our OpenAI requests against OpenAI's spec) into ./node_modules
node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(VENV)/.installed: infra/local/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
	touch $@

fmt:
	$(CARGO) fmt --all --check

## clippy: the lints alone, without building the tests
clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# shared alone, without its `images` feature: what the account functions build.
	$(CARGO) clippy -p shared --lib -- -D warnings

cfn-lint: venv
	$(VENV)/bin/cfn-lint template.yaml

## build / deploy: SAM with cargo-lambda (needs `pip install aws-sam-cli cargo-lambda` and AWS credentials)
build:
	sam build

deploy: build
	sam deploy --guided

clean:
	$(CARGO) clean
	rm -rf $(VENV) .aws-sam

## bench: the post-processing pipeline and the transforms in Rust (criterion), then the same in Pillow and pyvips;
## peak memory of the largest edit and variation; cold start and package size; AWS round trips per endpoint
bench: venv nasm
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(CARGO) bench -p imaging --bench pipeline
	$(VENV)/bin/python bench/pipeline.py --input target/bench/input-1024.png \
		--rust-json target/criterion/pipeline/rust/new/estimates.json
	$(CARGO) build --release -p imaging --example variation_8000 --example transform_40mp \
		--example transform_time
	target/release/examples/variation_8000 --prepare
	$(VENV)/bin/python bench/transforms.py --input target/bench/input-1024.png \
		--memory target/bench/input-8000x5000.png --rust-example target/release/examples/transform_40mp
	$(CARGO) build --release -p imaging --example edit_4096
	/usr/bin/time -v target/release/examples/edit_4096 512 2>&1 | grep -E "edited|Maximum resident"
	/usr/bin/time -v target/release/examples/edit_4096 2048 2>&1 | grep -E "edited|Maximum resident"
	/usr/bin/time -v target/release/examples/variation_8000 2>&1 | grep -E "varied|Maximum resident"
	$(CARGO) build --release -p imaging --features video --example video_12s
	/usr/bin/time -v target/release/examples/video_12s 2>&1 | grep -E "^video|Maximum resident"
	$(CARGO) build --release -p coldstart-hello && $(CARGO) build --release -p models
	$(CARGO) build --release -p me
	$(CARGO) build --release -p generate-image
	$(VENV)/bin/python bench/coldstart.py --runs 15 me models generate-image
	$(CARGO) build -p local-stack
	$(VENV)/bin/python bench/roundtrips.py
