"""Start the real Kestra engine (realservers/kestra: Kestra's published engine modules in one JVM
behind our thin HTTP front) for a test session.

    from realkestra import start
    with start(1) as server:          # or start(2); port=0 picks a free port
        server.url, server.version, server.user, server.password, server.major

A session fixture per major can wrap it, e.g.::

    @pytest.fixture(scope="session")
    def real_kestra_1():
        with realkestra.start(1) as server:
            yield server

The first start builds the engine classpath with Maven (``realservers/kestra/serve`` skips that
when nothing changed). Environment: ``MAVEN_REPO_LOCAL`` (Maven's local repository),
``JAVA_HOME`` (a JDK 25+, else the newest under /usr/lib/jvm), ``REAL_KESTRA_START_TIMEOUT``
(seconds, default 600: it covers a first Maven resolution). A failure raises
:class:`RealKestraError` with the tail of the server's log; it never falls back to anything.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import httpx

__all__ = ["RealKestra", "RealKestraError", "start", "SERVE"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SERVE = ROOT / "realservers" / "kestra" / "serve"
_READY = re.compile(r"^ready: (http://\S+)\s*$")


class RealKestraError(RuntimeError):
    """The real engine could not be built or started (the message carries the log tail)."""


@dataclass
class RealKestra:
    """A running real-engine server."""

    major: int
    url: str
    version: str
    user: str
    password: str
    startup_seconds: float
    data_dir: str
    log_path: str
    pid: int

    @property
    def auth(self) -> tuple:
        return (self.user, self.password)


@contextlib.contextmanager
def start(major: int, port: int = 0, user: Optional[str] = None, password: Optional[str] = None,
          data_dir: Optional[str] = None, timeout: Optional[float] = None) -> Iterator[RealKestra]:
    """Build if needed, start, wait for ``ready:``, yield a :class:`RealKestra`; stop on exit."""
    if major not in (1, 2):
        raise ValueError("major must be 1 or 2, got %r" % (major,))
    user = user or "admin@kestra.io"
    password = password or "Real-" + secrets.token_hex(8)
    timeout = float(timeout or os.environ.get("REAL_KESTRA_START_TIMEOUT") or 600)
    owned_dir = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix="real-kestra-%d-" % major)
    log_path = os.path.join(data_dir, "server.log")
    env = dict(os.environ, PORT=str(port), KESTRA_USER=user, KESTRA_PASSWORD=password,
               KESTRA_DATA_DIR=data_dir)
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen([str(SERVE), str(major)], stdout=subprocess.PIPE, stderr=log_file,
                                   env=env, cwd=str(ROOT), start_new_session=True)
    try:
        url = _wait_ready(process, timeout, log_path)
        elapsed = time.monotonic() - started
        version = httpx.get(url + "/api/v1/configs", timeout=30).json()["version"]
        server = RealKestra(major=major, url=url, version=version, user=user, password=password,
                            startup_seconds=elapsed, data_dir=data_dir, log_path=log_path, pid=process.pid)
        log.warning("real Kestra %s (major %d) ready at %s in %.1fs (log: %s)", version, major, url, elapsed, log_path)
        yield server
    finally:
        _stop(process)
        if owned_dir:
            _keep_log_only(data_dir)


def _wait_ready(process: subprocess.Popen, timeout: float, log_path: str) -> str:
    """Read stdout until the one ``ready: URL`` line; fail loudly on exit or timeout."""
    found: List[str] = []

    def reader() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace")
            match = _READY.match(line)
            if match and not found:
                found.append(match.group(1))
        # keep draining until EOF so the server never blocks on a full pipe

    thread = threading.Thread(target=reader, name="real-kestra-stdout", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not found:
        if process.poll() is not None:
            thread.join(2)
            if found:
                break
            raise RealKestraError("the real Kestra server exited with code %s before it was ready:\n%s"
                                  % (process.returncode, _tail(log_path)))
        if time.monotonic() > deadline:
            _stop(process)
            raise RealKestraError("the real Kestra server was not ready within %.0fs:\n%s"
                                  % (timeout, _tail(log_path)))
        time.sleep(0.1)
    return found[0]


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM (the JVM stops its services and task processes), then SIGKILL the group if needed."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    # anything left in the group (task processes) goes too
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(path: str, lines: int = 60) -> str:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def _keep_log_only(data_dir: str) -> None:
    """Drop storage and temp files of a server we created; keep server.log for post-mortems."""
    import shutil
    for name in ("storage", "tmp"):
        shutil.rmtree(os.path.join(data_dir, name), ignore_errors=True)
