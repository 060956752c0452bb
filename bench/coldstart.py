"""Cold start of Lambda functions, measured as Lambda reports Init Duration: from exec to the
function's first `GET /runtime/invocation/next` on a local Runtime API (this script serves it on
127.0.0.1). Then one invocation with the function's own event from events/, timed from handing
it out to the response. Peak RSS is VmHWM at the end; the package size is the stripped binary
zipped as SAM uploads it (`bootstrap` in a zip). A bare lambda_runtime function built with the
same profile is the baseline.

usage: coldstart.py --bin-dir target/release --runs 15 NAME...
"""

import argparse
import http.server
import io
import json
import os
import statistics
import subprocess
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
    """The Runtime API: one event, then its response; a second `next` means done."""

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
        if s.handed_out:
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
        s.answer = self.rfile.read(length)
        s.responded = time.perf_counter()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def serve(event: bytes):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    srv.event, srv.first_next, srv.handed_out, srv.responded = event, None, None, None
    srv.answer, srv.done = None, threading.Event()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def once(binary: Path, event: bytes):
    srv = serve(event)
    env = dict(ENV, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{srv.server_address[1]}", PATH=os.environ["PATH"])
    started = time.perf_counter()
    proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not srv.done.wait(30):
            raise SystemExit(f"{binary.name}: no second /next within 30 s: {proc.stderr.read1(4000)!r}")
        rss = peak_rss_kb(proc.pid)
    finally:
        proc.kill()
        proc.wait()
        srv.shutdown()
    status = json.loads(srv.answer).get("statusCode") if srv.answer else None
    return (srv.first_next - started) * 1000, (srv.responded - srv.handed_out) * 1000, rss, status


def zipped(binary: Path) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(binary, "bootstrap")
    return len(buf.getvalue())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=str(ROOT / "target" / "release"))
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("names", nargs="+")
    args = ap.parse_args()
    rows = []
    for name in ["coldstart-hello", *args.names]:
        binary = Path(args.bin_dir) / name
        event_file = ROOT / "events" / f"{name}.json"
        event = event_file.read_bytes() if event_file.exists() else b"{}"
        runs = [once(binary, event) for _ in range(args.runs)]
        init = statistics.median(r[0] for r in runs)
        invoke = statistics.median(r[1] for r in runs)
        rss = max(r[2] for r in runs)
        rows.append((name, init, invoke, rss, runs[0][3], binary.stat().st_size, zipped(binary)))
    base = rows[0][1]
    print(f"{'function':<18} {'init ms':>8} {'x hello':>8} {'1st invoke ms':>14} {'peak RSS MB':>12} {'status':>7} {'binary MB':>10} {'zip MB':>7}")
    for name, init, invoke, rss, status, size, z in rows:
        print(f"{name:<18} {init:8.2f} {init / base:8.2f} {invoke:14.2f} {rss / 1024:12.1f} {status!s:>7} {size / 1e6:10.1f} {z / 1e6:7.1f}")


if __name__ == "__main__":
    main()
