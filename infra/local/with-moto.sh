#!/usr/bin/env bash
# Runs a command with the emulator (moto, see moto_server.py) on a free 127.0.0.1 port, exported as AWS_ENDPOINT_URL,
# and stops the server however the command ends.
set -euo pipefail
python="${PYTHON:-.venv/bin/python}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" infra/local/moto_server.py -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
"$@"
