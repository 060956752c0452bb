# The README's two commands live here: `make run` and `make test`.
SHELL := /bin/bash
VENV  := .venv
PORT  ?= 3000
HOST  ?= 127.0.0.1
EMULATOR_PORT ?= 4566
CARGO ?= cargo

.PHONY: run test test-tools venv node build-debs debs avifenc qemu fmt clippy cfn-lint checkov bench deploy-tools build release-check deploy clean

## run: the whole API on http://127.0.0.1:$(PORT) against a local AWS emulator (Ctrl-C stops it)
run: venv build-debs
	$(CARGO) build -p local-stack
	PORT=$(PORT) HOST=$(HOST) EMULATOR_PORT=$(EMULATOR_PORT) ./target/debug/local-stack

# Clippy's lints run inside the test build itself (clippy-driver wraps rustc for the workspace's
# own crates, as `cargo clippy` does): one compilation of everything instead of a check pass and
# a build pass. Any warning, rustc's or clippy's, fails the build.
LINTED := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-Dwarnings__CLIPPY_HACKERY__

## test: formatting, then the test build (clippy inside it) while the tools only the tests need
## install beside it (venv, npm, Debian packages, checkov and cfn-lint runs), then the core bundle's
## clippy and every test against a moto server started and stopped here. Each phase is timed.
test: fmt build-debs
	@mkdir -p target; start=$$(date +%s); \
	{ time $(MAKE) --no-print-directory test-tools; } > target/test-tools.log 2>&1 & tools=$$!; \
	$(LINTED) $(CARGO) test --workspace --all-targets --no-run || { wait $$tools; exit 1; }; \
	echo "== test build: $$(( $$(date +%s) - start )) s"; \
	wait $$tools; ok=$$?; cat target/test-tools.log; [ $$ok = 0 ] || exit $$ok; \
	echo "== test tools, beside the build: $$(( $$(date +%s) - start )) s after the start"
	@start=$$(date +%s); \
	$(CARGO) clippy -p bundle-core -- -D warnings && \
	echo "== clippy of the core bundle (its own features, no images): $$(( $$(date +%s) - start )) s"
	@start=$$(date +%s); \
	$(LINTED) ./infra/local/with-moto.sh $(CARGO) test --workspace && \
	echo "== tests: $$(( $$(date +%s) - start )) s"

## test-tools: what the tests need and the build does not
test-tools: venv node debs cfn-lint checkov

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

## build-debs: what the C codecs build with: nasm assembles libjpeg-turbo's and libaom's x86 SIMD
## (without it, JPEG and AV1 encoding are several times slower; ARM builds need no assembler),
## and cmake builds libaom (the AVIF variants' encoder) from its source
build-debs:
	@{ command -v nasm && command -v cmake; } >/dev/null || { $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nasm cmake; }

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
	# The core bundle alone, with its own features (no `images`): what SAM builds for it.
	$(CARGO) clippy -p bundle-core -- -D warnings

cfn-lint: venv
	$(VENV)/bin/cfn-lint template.yaml

## The deploy tools, into their own venv: SAM, cargo-lambda and zig (its cross linker), and
## Rust's aarch64 standard library (the functions run on Graviton).
DEPLOY := $(VENV)/deploy
SAM := PATH="$(CURDIR)/$(DEPLOY)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(DEPLOY)/bin/sam
LAMBDA := PATH="$(CURDIR)/$(DEPLOY)/bin:$$PATH" $(CARGO) lambda

deploy-tools: $(DEPLOY)/.installed
	@rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || \
	  rustup target add aarch64-unknown-linux-gnu

$(DEPLOY)/.installed: infra/release/requirements.txt
	python3 -m venv $(DEPLOY)
	$(DEPLOY)/bin/pip install --quiet --disable-pip-version-check -r infra/release/requirements.txt
	touch $@

## qemu: runs the arm64 bootstraps here (qemu-user, and Debian's aarch64 C library for them)
## avifenc: libavif's encoder (with libaom), the AVIF benchmark's yardstick
avifenc:
	@command -v avifenc >/dev/null || { $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libavif-bin; }

qemu:
	@{ command -v qemu-aarch64 && test -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1; } >/dev/null || { \
	  $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	  --no-install-recommends qemu-user libc6-arm64-cross; }

## build: every function as SAM builds it for AWS: one arm64 bootstrap per bundle
## (infra/bundles/: core, without image codecs, and media), shared by its functions
build: deploy-tools
	$(SAM) build

## release-check: what to run before a deploy: the template linted and validated, a full build,
## then every artifact checked and started under qemu, and the translated template checked
release-check: deploy-tools qemu
	$(SAM) validate --lint --region us-east-1
	@start=$$(date +%s); $(SAM) build && echo "sam build: $$(( $$(date +%s) - start )) s"
	$(DEPLOY)/bin/python infra/release/check.py

## deploy: the release check, then the stack (samconfig.toml names the stack and the region);
## DEPLOY_ARGS adds sam deploy options, e.g. --parameter-overrides JwtSecret=...
deploy: release-check
	@# Not echoed: DEPLOY_ARGS may hold a secret.
	@$(SAM) deploy $(DEPLOY_ARGS)

clean:
	$(CARGO) clean
	rm -rf $(VENV) .aws-sam

## bench: the post-processing pipeline and the transforms in Rust (criterion), then the same in Pillow and pyvips;
## AVIF against avifenc and libvips;
## peak memory of the largest edit and variation; cold start and package size; AWS round trips per endpoint
bench: venv build-debs debs avifenc deploy-tools qemu
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/bench/requirements.txt
	$(CARGO) bench -p imaging --bench pipeline
	$(VENV)/bin/python infra/bench/pipeline.py --input target/bench/input-1024.png \
		--rust-json target/criterion/pipeline/rust/new/estimates.json
	$(CARGO) build --release -p imaging --example variation_8000 --example transform_40mp \
		--example transform_time
	target/release/examples/variation_8000 --prepare
	$(VENV)/bin/python infra/bench/transforms.py --input target/bench/input-1024.png \
		--memory target/bench/input-8000x5000.png --rust-example target/release/examples/transform_40mp
	$(CARGO) build --release -p imaging --features avif --example avif_time
	$(VENV)/bin/python infra/bench/avif.py --input target/bench/input-1024.png \
		--rust target/release/examples/avif_time
	$(CARGO) build --release -p imaging --example edit_4096
	/usr/bin/time -v target/release/examples/edit_4096 512 2>&1 | grep -E "edited|Maximum resident"
	/usr/bin/time -v target/release/examples/edit_4096 2048 2>&1 | grep -E "edited|Maximum resident"
	/usr/bin/time -v target/release/examples/variation_8000 2>&1 | grep -E "varied|Maximum resident"
	$(CARGO) build --release -p imaging --features video --example video_12s
	/usr/bin/time -v target/release/examples/video_12s 2>&1 | grep -E "^video|Maximum resident"
	$(CARGO) build --release -p provenance --example sign_cost
	target/release/examples/sign_cost
	# Cold start and size of what SAM ships (arm64, under qemu here), against a bare function
	# built the same way; then the same bundles built for x86_64 and run natively (real CPU
	# times and peak memory). One bundle per cargo run: together their features would unify.
	$(SAM) build
	$(LAMBDA) build --release --arm64 -p coldstart-hello
	$(VENV)/bin/python infra/bench/coldstart.py --runs 15 me models generate-image
	for p in bundle-core bundle-media bundle-variants coldstart-hello; do \
	  $(LAMBDA) build --release --lambda-dir target/lambda-x86_64 -p $$p || exit 1; done
	$(VENV)/bin/python infra/bench/coldstart.py --lambda-dir target/lambda-x86_64 --runs 15 \
		me models generate-image
	$(CARGO) build -p local-stack
	$(VENV)/bin/python infra/bench/roundtrips.py
