"""Cold start of the Lambda functions as `sam build` makes them, measured as Lambda reports Init
Duration: from exec to the function's first `GET /runtime/invocation/next` on a local Runtime
API (this script serves it on 127.0.0.1). Then one invocation with the function's own event
from events/, timed from handing it out to the response. Each function runs its bundle's
bootstrap with `_HANDLER` set to its Handler, as Lambda runs it.

The artifacts are arm64: on an x86_64 machine they run under qemu-aarch64 (user-mode
emulation), so absolute times are the emulator's; the ratio to a bare lambda_runtime function
built and run the same way (infra/coldstart-hello) is what compares. Peak RSS (VmHWM) is
reported for native runs only: under qemu it would be the emulator's. The package size is the
bootstrap zipped as SAM uploads it.

usage: coldstart.py [--artifacts .aws-sam/build] [--lambda-dir DIR] [--runs 15] HANDLER...
"""

import argparse
import http.server
import io
import json
import os
import platform
import statistics
import subprocess
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Debian's qemu-user, with the aarch64 C library of libc6-arm64-cross.
QEMU = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
# What the functions need to start: names only (no AWS call is made for these events), and an
# unreachable endpoint, so that any AWS call a cold start made would show as a failure.
ENV = {
    "TABLE_NAME": "coldstart-table",
    "BUCKET_NAME": "coldstart-bucket",
    "QUEUE_URL": "http://127.0.0.1:9/queue",
    "JWT_SECRET": "x" * 48,
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "RUST_LOG": "warn",
}


class Runtime(http.server.BaseHTTPRequestHandler):
    """The Runtime API: one event, then its response; a second `next` means done. An init
    error (or the process ending first) means the function did not start."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        s = self.server
        if not self.path.endswith("/invocation/next"):
            self.send_error(404)
            return
        now = time.perf_counter()
        if s.first_next is None:
            s.first_next = now
        if s.handed_out or not s.invoke:
            s.done.set()
            time.sleep(5)  # the process is killed meanwhile
            return
        s.handed_out = now
        body = s.event
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:coldstart")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        s = self.server
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if self.path.endswith("/init/error"):
            s.init_error = body.decode(errors="replace")
            s.done.set()
        elif self.path.endswith("/error"):
            s.invoke_error = body.decode(errors="replace")
            s.responded = time.perf_counter()
        else:
            s.answer = body
            s.responded = time.perf_counter()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


@dataclass
class Started:
    init_ms: float = 0.0
    invoke_ms: float = 0.0
    rss_kb: int = 0
    status: object = None
    error: str | None = None


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def start(binary: Path, env: dict, emulator=None, event: bytes | None = None, timeout=30) -> Started:
    """Runs `binary` against a fresh Runtime API until it asks for its first event (and, given
    an event, until it answers it and asks for the next)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    srv.event, srv.invoke = event, event is not None
    srv.first_next = srv.handed_out = srv.responded = srv.answer = None
    srv.init_error = srv.invoke_error = None
    srv.done = threading.Event()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{srv.server_address[1]}", PATH=os.environ["PATH"])
    began = time.perf_counter()
    proc = subprocess.Popen([*(emulator or []), str(binary)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        while not srv.done.wait(0.05):
            if proc.poll() is not None or time.perf_counter() - began > timeout:
                break
        rss = peak_rss_kb(proc.pid) if proc.poll() is None and not emulator else 0
    finally:
        proc.kill()
        _, err = proc.communicate()
        srv.shutdown()
        srv.server_close()
    out = Started(rss_kb=rss)
    if srv.init_error or srv.first_next is None or (srv.invoke and srv.responded is None):
        reason = srv.init_error or err.decode(errors="replace").strip()[-600:] or "no request to the Runtime API"
        out.error = reason
        return out
    if srv.invoke_error:
        out.error = f"the invocation failed: {srv.invoke_error}"
        return out
    out.init_ms = (srv.first_next - began) * 1000
    if srv.invoke:
        out.invoke_ms = (srv.responded - srv.handed_out) * 1000
        out.status = json.loads(srv.answer).get("statusCode") if srv.answer else None
    return out


def zipped(binary: Path) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(binary, "bootstrap")
    return len(buf.getvalue())


def is_aarch64(binary: Path) -> bool:
    return binary.read_bytes()[18:20] == (183).to_bytes(2, "little")


def artifacts(build_dir: Path, lambda_dir: Path | None) -> dict:
    """Each function's bootstrap by its Handler: the one in the `sam build` directory, or, given
    a cargo-lambda output directory, its bundle's there (the same build for another target)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # CloudFormation's short tags (!Ref, !If...) are kept as plain values; only paths matter.
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    built = yaml.load((build_dir / "template.yaml").read_text(), Loader=Loader)
    out = {}
    for f in built["Resources"].values():
        if f.get("Type") != "AWS::Serverless::Function":
            continue
        props = f["Properties"]
        if lambda_dir:
            out[props["Handler"]] = lambda_dir / f["Metadata"]["BuildProperties"]["Binary"] / "bootstrap"
        else:
            out[props["Handler"]] = build_dir / props["CodeUri"] / "bootstrap"
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default=str(ROOT / ".aws-sam" / "build"))
    ap.add_argument("--lambda-dir", help="cargo-lambda's output directory, for bundles built outside SAM")
    ap.add_argument("--hello", help="the baseline's bootstrap (default: coldstart-hello's in target/lambda "
                    "or in --lambda-dir)")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("handlers", nargs="+")
    args = ap.parse_args()
    lambda_dir = Path(args.lambda_dir) if args.lambda_dir else None
    built = artifacts(Path(args.artifacts), lambda_dir)
    hello = Path(args.hello or (lambda_dir or ROOT / "target" / "lambda") / "coldstart-hello" / "bootstrap")
    emulated = is_aarch64(hello) and platform.machine() != "aarch64"
    emulator = QEMU if emulated else None
    rows = []
    for name, binary in [("hello", hello), *((h, built[h]) for h in args.handlers)]:
        event_file = ROOT / "events" / f"{name}.json"
        event = event_file.read_bytes() if event_file.exists() else b"{}"
        env = dict(ENV, _HANDLER=name)
        runs = [start(binary, env, emulator, event) for _ in range(args.runs)]
        errors = [r.error for r in runs if r.error]
        if errors:
            raise SystemExit(f"{name}: {errors[0]}")
        init = statistics.median(r.init_ms for r in runs)
        invoke = statistics.median(r.invoke_ms for r in runs)
        rss = max(r.rss_kb for r in runs)
        rows.append((name, init, invoke, rss, runs[0].status, binary.stat().st_size, zipped(binary)))
    base = rows[0][1]
    how = "arm64 under qemu-aarch64" if emulated else f"{platform.machine()}, native"
    print(f"cold start of the artifacts in {args.lambda_dir or args.artifacts} ({how}), median of {args.runs}:")
    print(f"{'function':<18} {'init ms':>8} {'x hello':>8} {'1st invoke ms':>14} {'peak RSS MB':>12} "
          f"{'status':>7} {'binary MB':>10} {'zip MB':>7}")
    for name, init, invoke, rss, status, size, z in rows:
        rss_mb = f"{rss / 1024:.1f}" if rss else "-"
        print(f"{name:<18} {init:8.2f} {init / base:8.2f} {invoke:14.2f} {rss_mb:>12} {status!s:>7} "
              f"{size / 1e6:10.1f} {z / 1e6:7.1f}")


if __name__ == "__main__":
    main()
