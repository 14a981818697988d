"""`metaflow-orchestrators emulate windmill` serves the API in the foreground and stops on SIGTERM,
also after evaluating JavaScript (a V8 isolate left to interpreter finalization could hang the exit)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serves_and_stops(tmp_path):
    port = _free_port()
    cmd = [sys.executable, "-m", "metaflow_orchestrators.cli", "emulate", "windmill", "--port", str(port),
           "--token", "cli-token", "--workspace", "cliws", "--workdir", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=os.getcwd())
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get("http://127.0.0.1:%d/api/version" % port, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
            time.sleep(0.1)
        headers = {"Authorization": "Bearer cli-token"}
        client = httpx.Client(base_url="http://127.0.0.1:%d/api/w/cliws" % port, headers=headers)
        body = {"path": "f/cli/hello", "summary": "", "value": {"modules": [
            {"id": "a", "value": {"type": "rawscript", "language": "bash",
                                  "content": 'N="$1"\necho "$BASE_INTERNAL_URL $N"',
                                  "input_transforms": {"N": {"type": "javascript", "expr": "flow_input.n * 2"}}}}]}}
        assert client.post("/flows/create", json=body).status_code == 201
        result = client.post("/jobs/run_wait_result/f/f/cli/hello", json={"n": 21})
        assert result.json() == "http://127.0.0.1:%d 42" % port
        assert httpx.get("http://127.0.0.1:%d/api/w/other/flows/list" % port, headers=headers).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0  # a requested stop is a clean exit

