"""Shared pieces of the Kestra end-to-end tests: one server per Kestra version (the
emulator, or a real Kestra when KESTRA_HOST is set), deploy + run helpers, and the
artifact comparison with ``python flow.py run``."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional

import pytest

import flowrunner as fr
from metaflow_extensions.orchestrators.plugins.kestra.client import KestraClient
from metaflow_extensions.orchestrators.plugins.kestra import deployment as dep
from metaflow_extensions.orchestrators.plugins.kestra.compiler import compile_flow, dump
from metaflow_extensions.orchestrators.plugins.kestra.naming import flow_id

# A real server's worker has its own interpreter (docker-compose: python3 in the image).
WORKER_PYTHON = os.environ.get("KESTRA_WORKER_PYTHON") or sys.executable
USER = "admin@example.com"
PASSWORD = "e2e-Secret-pw-42"


@dataclass
class Server:
    url: str
    version: int
    user: Optional[str]
    password: Optional[str] = field(repr=False)  # pytest prints the fixture in failures
    real: bool = False
    # Its worker sees this machine's files (the emulators; the real engine started by
    # `--real-kestra`), so flows written to pytest's tmp_path can run there.
    local: bool = True

    def client(self) -> KestraClient:
        return KestraClient(self.url, username=self.user, password=self.password)

    def env(self) -> Dict[str, str]:
        env = {"KESTRA_HOST": self.url}
        if self.user:
            env.update(KESTRA_USER=self.user, KESTRA_PASSWORD=self.password or "")
        return env


def server_params() -> List:
    params = [pytest.param(1, id="kestra1"), pytest.param(2, id="kestra2")]
    params.append(pytest.param("real", id="real", marks=[
        pytest.mark.real_kestra,
        pytest.mark.skipif(not os.environ.get("KESTRA_HOST"), reason="KESTRA_HOST is not set: no real Kestra")]))
    return params


@contextlib.contextmanager
def start_server(which):
    """A Server: the real Kestra at KESTRA_HOST, or an emulator of version ``which``."""
    if which == "real":
        url = os.environ["KESTRA_HOST"]
        user, password = os.environ.get("KESTRA_USER"), os.environ.get("KESTRA_PASSWORD")
        with KestraClient(url, username=user, password=password) as client:
            version = client.major
        yield Server(url, version, user, password, real=True,
                     local=bool(os.environ.get("MFO_REAL_KESTRA_VERSION")))
        return
    from metaflow_orchestrators.emulators.kestra import start

    with start(version=which, username=USER, password=PASSWORD) as handle:
        yield Server(handle.url, which, USER, PASSWORD)


def deploy(server: Server, name: str, **target_overrides) -> str:
    """Compile the example for the server's version and upsert it; returns the flow id."""
    plan = fr.load_plan(name)
    deploy_opts = fr.deploy_options(name, engine="kestra")
    fid = flow_id(plan.project.flow_name if plan.project else plan.flow_name)
    # Labelled as `create` labels it: a Deployer test listing the namespace (any worker,
    # any order) must still find the flow after this upsert.
    target = replace(dep.target(plan, dep.Connection(server.url, namespace="metaflow"), fid, server.version,
                                python=WORKER_PYTHON), **target_overrides)
    with server.client() as client:
        client.upsert_flow(dump(compile_flow(plan, deploy_opts, target)), "metaflow", fid)
    return fid


def run(server: Server, name: str, inputs=None, max_wait: float = 600, **target_overrides):
    """Deploy, trigger, wait: the final Kestra execution."""
    fid = deploy(server, name, **target_overrides)
    with server.client() as client:
        execution = client.trigger("metaflow", fid, inputs or {})
        return client.wait(execution["id"], max_wait=max_wait, poll=0.3)


artifacts = fr.comparable_artifacts


def flow_cli(name: str, *args: str, server: Server, check: bool = True, env: Optional[Dict[str, str]] = None):
    """``python flow.py --no-pylint kestra ...`` against the server (credentials via env)."""
    return fr.engine_cli("kestra", name, *args, env={**server.env(), **(env or {})}, check=check)


def flow_file(server: Server, tmp_path, name: str, source: str):
    """Write a test's own flow into pytest's tmp_path (skipping when the server's worker
    cannot see this machine's files)."""
    if not server.local:
        pytest.skip("the flow lives in pytest's tmp_path, which this server's worker does not see")
    path = tmp_path / (name + ".py")
    path.write_text(source)
    return path


def run_flow_file(server: Server, path, *args: str) -> subprocess.CompletedProcess:
    """``python <path> kestra run --wait <args>`` against the server; never raises."""
    return subprocess.run([sys.executable, str(path), "--no-pylint", "kestra", "run", "--wait",
                           "--worker-python=%s" % WORKER_PYTHON, *args], capture_output=True, text=True,
                          env={**os.environ, **server.env()}, timeout=600)


def known_real_2x_defect(request, server: Server, what: str) -> None:
    """Mark a test expected to fail on the embedded real Kestra 2.0.0 engine, for a defect
    seen there and not yet explained (realservers/kestra/README.md, "Open problems"): the
    test still runs and reports XPASS once it passes. Never applies elsewhere."""
    if server.real and server.local and server.version >= 2:
        request.node.add_marker(pytest.mark.xfail(reason="real Kestra 2.0.0 engine: " + what, strict=False))

