"""The release check's steps after `sam build` (make release-check runs them with the deploy
venv's python, which has SAM and its translator):

0. Codecs: no bundle links an image codec unless one of its functions makes pixels.
1. Artifacts: every function's build directory holds exactly one file, `bootstrap` (so it is at
   the root of the zip SAM uploads), an executable aarch64 ELF that needs no glibc newer than
   Amazon Linux 2023's, within the size goal; the functions of one bundle share one artifact.
2. Start: every function's bootstrap, run under qemu-aarch64 as that function (its `Handler`
   and its environment as the template resolves it), starts and asks the Runtime API for its
   first event, as on Lambda; a bootstrap that cannot serve its Handler fails here.
3. Translation: the built template, expanded by SAM's translator as CloudFormation will, gives
   every function its artifact, a role of its own with only its template's statements (and
   the execution and SQS polling policies SAM adds), a trigger, and only the environment the
   template gives it.

usage: check.py [--build-dir .aws-sam/build] [--no-start]
"""

import argparse
import copy
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "bench"))
from coldstart import QEMU, start  # noqa: E402

# Amazon Linux 2023, the provided.al2023 runtime, has glibc 2.34.
GLIBC_MAX = (2, 34)
# The project's goal for a function's package (Lambda's own limit is 50 MB zipped).
ZIPPED_MAX = 6_000_000
# The bundle that signs Content Credentials carries the C2PA SDK, 2.9 MB zipped by itself: its
# goal is 9 MB (its cold start stays within 1.5x a bare function's; see README, Provenance).
ZIPPED_MAX_C2PA = 9_000_000
EM_AARCH64 = 183
# Plain secrets: a deployment passes them as parameters, and the template gives each only to
# the functions that use it (the stack-shape tests check which).
SECRETS = {"JWT_SECRET", "C2PA_SIGNING_KEY", "OPENAI_API_KEY", "STABILITY_API_KEY", "REPLICATE_API_TOKEN", "FAL_KEY",
           "GOOGLE_CLIENT_SECRET", "MICROSOFT_CLIENT_SECRET", "APPLE_PRIVATE_KEY"}
PARAMETERS = {"JwtSecret": "j" * 40, "OpenAiApiKey": "sk-release-check", "FalKey": "fal-release-check"}
# What SAM adds to every function's role, and to those an SQS queue feeds.
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SQS_POLLER = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
STREAM_POLLER = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"

failures = []


def fail(msg):
    failures.append(msg)
    print(f"  FAIL {msg}")


def load_yaml(path):
    from samcli.yamlhelper import yaml_parse
    return yaml_parse(Path(path).read_text())


def functions_of(template):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def elf_machine(data: bytes):
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    return int.from_bytes(data[18:20], "little")


def glibc_needed(path: Path):
    if not shutil.which("readelf"):
        raise SystemExit("readelf (Debian's binutils) is needed to read the glibc versions")
    out = subprocess.run(["readelf", "--version-info", "--wide", str(path)], capture_output=True,
                         text=True, check=True).stdout
    versions = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)}
    return max(versions) if versions else None


def zipped_size(path: Path) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    return len(buf.getvalue())


# Crates that carry pixels: image codecs, the pixel library, the video encoder.
CODECS = {"image", "imaging", "mozjpeg", "mozjpeg-sys", "png", "zune-jpeg", "jpeg-encoder", "webp",
          "libwebp-sys", "image-webp", "gif", "openh264", "openh264-sys2", "muxide", "libaom-sys",
          "avif-serialize"}
# The AV1 encoder is the largest of them: only the bundle of the function that makes the AVIF
# variants may link it.
AV1 = {"libaom-sys"}
# The C2PA SDK (about 3 MB zipped): only bundles of functions that sign or read credentials.
C2PA = {"c2pa"}


def check_codecs(built):
    """What SAM builds for each bundle is cargo run in that bundle's folder: its dependency
    tree there (aarch64, normal dependencies) is what links."""
    print("codecs (cargo tree in each bundle's folder, as SAM's cargo-lambda build resolves it):")
    bundles = {f["Metadata"]["BuildProperties"]["Binary"]: f for f in functions_of(built).values()}
    for bundle in sorted(bundles):
        folder = ROOT / "infra" / "bundles" / bundle.removeprefix("bundle-")
        tree = subprocess.run([os.environ.get("CARGO", "cargo"), "tree", "-e", "normal", "--prefix", "none",
                               "--target", "aarch64-unknown-linux-gnu"], cwd=folder,
                              capture_output=True, text=True, check=True).stdout
        crates = {line.split()[0] for line in tree.splitlines() if line.strip()}
        linked = sorted(crates & CODECS)
        makes_pixels = any(f["Properties"]["Handler"] in PIXEL_FUNCTIONS for f in functions_of(built).values()
                           if f["Metadata"]["BuildProperties"]["Binary"] == bundle)
        if linked and not makes_pixels:
            fail(f"{bundle} links {linked}, and none of its functions makes pixels")
        makes_avif = any(f["Properties"]["Handler"] in AVIF_FUNCTIONS for f in functions_of(built).values()
                         if f["Metadata"]["BuildProperties"]["Binary"] == bundle)
        if crates & AV1 and not makes_avif:
            fail(f"{bundle} links the AV1 encoder, and none of its functions makes AVIF variants")
        signs = any(f["Properties"]["Handler"] in C2PA_FUNCTIONS for f in functions_of(built).values()
                    if f["Metadata"]["BuildProperties"]["Binary"] == bundle)
        if crates & C2PA and not signs:
            fail(f"{bundle} links the C2PA SDK, and none of its functions signs or reads credentials")
        print(f"  {bundle:<14} {len(crates)} crates; codecs: {', '.join(linked) or 'none'}")


def functions_with(*features):
    """Functions whose crate enables one of shared's `features`."""
    out = set()
    for manifest in (ROOT / "functions").glob("*/Cargo.toml"):
        shared = next((l for l in manifest.read_text().splitlines() if l.startswith("shared")), "")
        if any(f'"{f}"' in shared for f in features):
            out.add(manifest.parent.name)
    return out


PIXEL_FUNCTIONS = functions_with("images", "video", "variants")
AVIF_FUNCTIONS = functions_with("variants")
C2PA_FUNCTIONS = functions_with("images", "video", "provenance")


def check_artifacts(build_dir: Path, built):
    print("artifacts:")
    by_bundle = {}
    for fid, f in sorted(functions_of(built).items()):
        props = f["Properties"]
        art = build_dir / props.get("CodeUri", "")
        files = sorted(p.name for p in art.iterdir()) if art.is_dir() else None
        if files != ["bootstrap"]:
            fail(f"{fid}: {art} holds {files} instead of a bootstrap alone (was only part of the "
                 "stack built? `make build` builds all of it)")
            continue
        boot = art / "bootstrap"
        data = boot.read_bytes()
        if elf_machine(data) != EM_AARCH64:
            fail(f"{fid}: bootstrap is not a 64-bit aarch64 ELF")
        if not os.access(boot, os.X_OK):
            fail(f"{fid}: bootstrap is not executable")
        bundle = f["Metadata"]["BuildProperties"]["Binary"]
        by_bundle.setdefault(bundle, []).append((fid, props["CodeUri"], boot))
    rows = []
    for bundle, members in sorted(by_bundle.items()):
        # SAM builds functions of equal CodeUri and Metadata once; with its build-performance
        # beta they also share one artifact directory, and a deploy uploads one zip.
        dirs = {uri for _, uri, _ in members}
        if len(dirs) != 1:
            fail(f"{bundle}: its {len(members)} functions have {len(dirs)} artifact directories, "
                 "one zip to upload each (samconfig.toml's beta_features shares one)")
        boot = members[0][2]
        glibc = glibc_needed(boot)
        if glibc and glibc > GLIBC_MAX:
            fail(f"{bundle}: needs glibc {'.'.join(map(str, glibc))}, newer than Amazon Linux 2023's")
        z = zipped_size(boot)
        signs = any(functions_of(built)[fid]["Properties"]["Handler"] in C2PA_FUNCTIONS for fid, _, _ in members)
        goal = ZIPPED_MAX_C2PA if signs else ZIPPED_MAX
        if z > goal:
            fail(f"{bundle}: {z / 1e6:.1f} MB zipped, over the {goal / 1e6:.0f} MB goal")
        rows.append((bundle, len(members), boot.stat().st_size, z, glibc))
    print(f"  {'bundle':<14} {'functions':>9} {'bootstrap MB':>13} {'zipped MB':>10} {'glibc needed':>13}")
    for bundle, n, size, z, glibc in rows:
        g = ".".join(map(str, glibc)) if glibc else "none"
        print(f"  {bundle:<14} {n:>9} {size / 1e6:>13.1f} {z / 1e6:>10.2f} {g:>13}")


class Resolver:
    """The template's intrinsic functions, as CloudFormation would resolve them for a stack
    deployed with PARAMETERS (and every other parameter at its default)."""

    def __init__(self, template):
        self.t = template
        self.params = {k: str(PARAMETERS.get(k, v.get("Default", "")))
                       for k, v in template.get("Parameters", {}).items()}

    def condition(self, name):
        return self.truth(self.t["Conditions"][name])

    def truth(self, c):
        (fn, args), = c.items()
        if fn == "Fn::Equals":
            return self.value(args[0]) == self.value(args[1])
        if fn == "Fn::Not":
            return not self.truth(args[0])
        if fn == "Fn::Or":
            return any(self.truth(a) for a in args)
        if fn == "Fn::And":
            return all(self.truth(a) for a in args)
        if fn == "Condition":
            return self.condition(args)
        raise ValueError(f"condition {fn}")

    def value(self, v):
        if isinstance(v, (str, int, float, bool)):
            return str(v).lower() if isinstance(v, bool) else str(v)
        (fn, args), = v.items()
        if fn == "Ref":
            if args == "AWS::NoValue":
                return None
            if args in self.params:
                return self.params[args]
            if args.startswith("AWS::"):
                return {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
                        "AWS::Partition": "aws", "AWS::StackName": "imageapi",
                        "AWS::URLSuffix": "amazonaws.com"}[args]
            kind = self.t["Resources"][args]["Type"]  # a KeyError names an unknown reference
            if kind == "AWS::SQS::Queue":
                return f"https://sqs.us-east-1.amazonaws.com/123456789012/{args}"
            return args.lower()
        if fn == "Fn::GetAtt":
            res, attr = args if isinstance(args, list) else args.split(".", 1)
            return f"arn:aws:{res.lower()}:{attr}"
        if fn == "Fn::Join":
            return args[0].join(v for v in map(self.value, args[1]) if v is not None)
        if fn == "Fn::If":
            return self.value(args[1] if self.condition(args[0]) else args[2])
        if fn == "Fn::Sub":
            text, names = (args, {}) if isinstance(args, str) else (args[0], args[1])

            def one(m):
                name = m.group(1)
                if name in names:
                    return self.value(names[name])
                if "." in name:
                    return self.value({"Fn::GetAtt": name.split(".", 1)})
                return self.value({"Ref": name})
            return re.sub(r"\$\{([^}!]+)\}", one, text)
        raise ValueError(f"intrinsic {fn}")


def environment(template, resolver, fid):
    env = dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    env.update(template["Resources"][fid]["Properties"].get("Environment", {}).get("Variables", {}))
    # A variable whose value is AWS::NoValue is not set at all.
    return {k: v for k, v in ((k, resolver.value(v)) for k, v in env.items()) if v is not None}


def check_starts(build_dir: Path, built):
    how = "natively" if platform.machine() == "aarch64" else "under qemu-aarch64"
    print(f"start {how} (each function as its Handler, with its environment):")
    resolver = Resolver(built)
    started = 0
    for fid, f in sorted(functions_of(built).items()):
        # What Lambda itself sets, then the template's own variables.
        env = {"AWS_LAMBDA_FUNCTION_NAME": fid, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
               "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": "release", "AWS_SECRET_ACCESS_KEY": "check",
               **environment(built, resolver, fid), "_HANDLER": f["Properties"]["Handler"]}
        boot = build_dir / f["Properties"]["CodeUri"] / "bootstrap"
        if not boot.is_file():
            continue  # already reported with the artifacts
        result = start(boot, env, emulator=None if platform.machine() == "aarch64" else QEMU)
        if result.error:
            fail(f"{fid} ({env['_HANDLER']}) does not start: {result.error}")
        else:
            started += 1
    print(f"  {started} of {len(functions_of(built))} functions started and asked for their first event")


def translate(built):
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    sam = copy.deepcopy(built)
    for f in functions_of(sam).values():
        # The translator takes S3 locations; the key stands for the uploaded build directory.
        f["Properties"]["CodeUri"] = f"s3://artifacts/{f['Properties']['CodeUri']}"
    resolver = Resolver(built)
    # The translator names the region in ARNs; it asks boto for it.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return Translator(None, Parser()).translate(sam_template=sam, parameter_values=dict(resolver.params),
                                                get_managed_policy_map=lambda: {})


def refs_to(value, target):
    text = json.dumps(value)
    return f'"Ref": "{target}"' in text or f'"Fn::GetAtt": ["{target}", "Arn"]' in text


def check_translation(built):
    print("translation (aws-sam-translator):")
    cfn = translate(built)
    res = cfn["Resources"]
    lambdas = {k: v for k, v in res.items() if v["Type"] == "AWS::Lambda::Function"}
    sam_functions = functions_of(built)
    if set(lambdas) != set(sam_functions):
        fail(f"functions in and out differ: {set(lambdas) ^ set(sam_functions)}")
    env_globals = set(built.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    roles = set()
    kinds = {}
    for fid, fn in sorted(lambdas.items()):
        p, sp = fn["Properties"], sam_functions[fid]["Properties"]
        key = p["Code"].get("S3Key", "")
        if key != sp["CodeUri"]:
            fail(f"{fid}: code {key!r} is not its build directory {sp['CodeUri']!r}")
        if p.get("Handler") != sp["Handler"] or p.get("Runtime") != "provided.al2023":
            fail(f"{fid}: handler {p.get('Handler')} / runtime {p.get('Runtime')}")
        if p.get("Architectures") != ["arm64"]:
            fail(f"{fid}: architectures {p.get('Architectures')}")
        role_id = p["Role"]["Fn::GetAtt"][0]
        role = res.get(role_id)
        if not role or role["Type"] != "AWS::IAM::Role" or role_id in roles:
            fail(f"{fid}: no role of its own ({role_id})")
        roles.add(role_id)
        managed = set(role["Properties"].get("ManagedPolicyArns", []))
        events = sp.get("Events", {})
        sqs_fed = any(e["Type"] == "SQS" for e in events.values())
        stream_fed = any(e["Type"] == "DynamoDB" for e in events.values())
        allowed = {BASIC} | ({SQS_POLLER} if sqs_fed else set()) | ({STREAM_POLLER} if stream_fed else set())
        if managed - allowed:
            fail(f"{fid}: managed policies {managed - allowed}")
        # SAM adds one of its own per stream event with an on-failure queue: SendMessage to it.
        destination = {f"{fid}{name}SQSPolicy" for name, e in events.items()
                       if e["Type"] == "DynamoDB" and "DestinationConfig" in e.get("Properties", {})}
        inline = sorted(json.dumps(policy(pol)) for pol in role["Properties"].get("Policies", [])
                        if pol.get("PolicyName") not in destination)
        declared = sorted(json.dumps(policy(pol)) for pol in sp.get("Policies", []))
        if inline != declared:
            fail(f"{fid}: its role's statements are not its template's Policies")
        own_env = set(sp.get("Environment", {}).get("Variables", {}))
        env = set(p.get("Environment", {}).get("Variables", {}))
        if env != env_globals | own_env:
            fail(f"{fid}: environment {sorted(env ^ (env_globals | own_env))} differs from the template's")
        if (env & SECRETS) - own_env:
            fail(f"{fid}: secrets {(env & SECRETS) - own_env} not given by its own Environment")
        triggers = []
        for rid, r in res.items():
            t, rp = r["Type"], r.get("Properties", {})
            if t == "AWS::Lambda::Permission" and refs_to(rp.get("FunctionName"), fid):
                triggers.append(rp.get("Principal"))
            elif t == "AWS::Lambda::EventSourceMapping" and refs_to(rp.get("FunctionName"), fid):
                triggers.append("dynamodb" if "StreamArn" in json.dumps(rp.get("EventSourceArn")) else "sqs")
            elif t == "AWS::Scheduler::Schedule" and refs_to(rp.get("Target"), fid):
                triggers.append("schedule")
        if not triggers:
            fail(f"{fid}: nothing invokes it")
        kind = "+".join(sorted(set(triggers)))
        kinds[kind] = kinds.get(kind, 0) + 1
    routes = [p for r in res.values() if r["Type"] == "AWS::ApiGatewayV2::Api"
              for p in r["Properties"].get("Body", {}).get("paths", {}).values()]
    print(f"  {len(res)} resources; {len(lambdas)} functions, each with its artifact and a role of "
          f"its own ({len(roles)} roles); triggers: "
          + ", ".join(f"{n} by {k}" for k, n in sorted(kinds.items()))
          + f"; {sum(len(p) for p in routes)} API routes")


def policy(p):
    """A policy as statements, from a role's Policies or a function's (SAM wraps each of the
    latter in a named policy document; an `Fn::If` keeps its condition)."""
    if "Fn::If" in p:
        cond, yes, no = p["Fn::If"]
        return ["if", cond, policy(yes), policy(no)]
    if len(p) == 1 and next(iter(p)).endswith("Policy"):
        # A SAM policy template, expanded as the translator does.
        from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor
        (name, params), = p.items()
        templates = PolicyTemplatesProcessor(PolicyTemplatesProcessor.get_default_policy_templates_json())
        return policy(templates.convert(name, params))
    doc = p.get("PolicyDocument", p)
    if "Statement" in doc:
        s = doc["Statement"]
        return s if isinstance(s, list) else [s]
    return p  # {"Ref": "AWS::NoValue"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=".aws-sam/build")
    ap.add_argument("--no-start", action="store_true")
    args = ap.parse_args()
    os.chdir(ROOT)
    build_dir = Path(args.build_dir)
    built = load_yaml(build_dir / "template.yaml")
    check_codecs(built)
    check_artifacts(build_dir, built)
    if not args.no_start:
        check_starts(build_dir, built)
    check_translation(built)
    if failures:
        print(f"release check: {len(failures)} failure(s)")
        sys.exit(1)
    print("release check: passed")


if __name__ == "__main__":
    main()
