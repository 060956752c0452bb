"""AWS round trips per endpoint, counted by the emulator's own request recorder: the local stack
(`target/debug/local-stack`) runs with MOTO_ENABLE_RECORDING=True, and for each request the
recorder is cleared, started, stopped and read back. DynamoDB calls are told by their
X-Amz-Target, S3 calls by their path. A change that adds a round trip shows here.

usage: roundtrips.py [--stack target/debug/local-stack]
"""

import argparse
import collections
import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, token=None, raw=False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            payload = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        payload, status = e.read(), e.code
    if raw:
        return status, payload
    return status, (json.loads(payload) if payload else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stack", default=str(ROOT / "target" / "debug" / "local-stack"))
    args = ap.parse_args()
    port = free_port()
    # The recorder's file is an output: under target/, never in the checkout.
    (ROOT / "target").mkdir(exist_ok=True)
    env = dict(os.environ, PORT=str(port), MOTO_ENABLE_RECORDING="True", RUST_LOG="warn",
               MOTO_RECORDER_FILEPATH=str(ROOT / "target" / "moto_recording"))
    stack = subprocess.Popen([args.stack], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    moto = None
    try:
        deadline = time.time() + 120
        for line in stack.stderr:
            m = re.search(r"AWS emulator \(moto\):\s+(\S+)", line)
            if m:
                moto = m.group(1)
            if "Ctrl-C stops" in line or time.time() > deadline:
                break
        if not moto:
            raise SystemExit("the local stack did not start")
        api = f"http://127.0.0.1:{port}"
        name = f"bench{int(time.time())}"
        call("POST", f"{api}/v1/auth/register", {"username": name, "email": f"{name}@example.com", "password": "correct horse battery"})
        _, tokens = call("POST", f"{api}/v1/auth/login", {"username": name, "password": "correct horse battery"})
        access = tokens["access_token"]
        _, key = call("POST", f"{api}/v1/api-keys", {"name": "bench"}, access)
        key = key["key"]
        call("GET", f"{api}/v1/me", token=key)  # the key's one lookup per instance

        def counted(method, path, body=None, token=None):
            call("POST", f"{moto}/moto-api/recorder/reset-recording", raw=True)
            call("POST", f"{moto}/moto-api/recorder/start-recording", raw=True)
            status, _ = call(method, f"{api}{path}", body, token, raw=True)
            call("POST", f"{moto}/moto-api/recorder/stop-recording", raw=True)
            _, log = call("GET", f"{moto}/moto-api/recorder/download-recording", raw=True)
            ops = collections.Counter()
            for line in log.decode().splitlines():
                if not line.strip():
                    continue
                r = json.loads(line)
                target = (r.get("headers") or {}).get("X-Amz-Target") or (r.get("headers") or {}).get("x-amz-target")
                if target and target.startswith("DynamoDB"):
                    ops["dynamodb " + target.split(".")[-1]] += 1
                elif "/moto-api/" not in r.get("url", ""):
                    ops[f"s3 {r.get('method')}"] += 1
            return status, ops

        cases = [
            ("GET /v1/me (access token)", "GET", "/v1/me", None, access),
            ("GET /v1/me (API key)", "GET", "/v1/me", None, key),
            ("GET /v1/images", "GET", "/v1/images", None, access),
            ("GET /v1/models (no credentials)", "GET", "/v1/models", None, None),
            ("POST generations n=1", "POST", "/v1/images/generations", {"prompt": "a fox", "size": "256x256"}, key),
            ("POST generations n=2", "POST", "/v1/images/generations", {"prompt": "a fox", "size": "256x256", "n": 2}, key),
        ]
        print(f"{'request':<34} {'status':>6} {'DynamoDB':>9} {'S3':>4}  calls")
        for label, method, path, body, token in cases:
            status, ops = counted(method, path, body, token)
            ddb = sum(v for k, v in ops.items() if k.startswith("dynamodb"))
            s3 = sum(v for k, v in ops.items() if k.startswith("s3"))
            detail = ", ".join(f"{k.split(' ', 1)[1]} {v}" for k, v in sorted(ops.items()))
            print(f"{label:<34} {status:>6} {ddb:>9} {s3:>4}  {detail}")
    finally:
        stack.terminate()
        stack.wait(timeout=30)


if __name__ == "__main__":
    main()
