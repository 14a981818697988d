"""`metaflow-orchestrators emulate kestra ...`: starts, logs its URL, answers, stops on SIGTERM."""
from __future__ import annotations

import os
import pathlib
import select
import signal
import socket
import subprocess
import sys
import time

import httpx

REPO = pathlib.Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_version_auth_and_stops_on_sigterm(tmp_path):
    port = free_port()
    code = "import sys; from metaflow_orchestrators.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "emulate", "kestra", "--port", str(port), "--version", "1",
         "--username", "u", "--password", "p", "--workdir", str(tmp_path)],
        cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 15)  # bounded wait for the banner
        assert ready, "no output from the emulator within 15 s"
        line = proc.stdout.readline().decode()
        assert "http://127.0.0.1:%d" % port in line
        deadline = time.monotonic() + 10
        while True:
            try:
                r = httpx.get("http://127.0.0.1:%d/api/v1/configs" % port)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert r.json()["version"].startswith("1.")
        assert httpx.get("http://127.0.0.1:%d/api/v1/main/executions/x" % port).status_code == 401
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the captured signal (uvicorn >= 0.29).
        assert proc.wait(timeout=10) == 0  # a requested stop is a clean exit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
