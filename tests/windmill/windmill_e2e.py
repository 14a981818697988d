"""Shared pieces of the Windmill end-to-end tests: the server (the Windmill emulator, or a
real Windmill when WINDMILL_HOST is set), deploy + run helpers, and the artifact
comparison with ``python flow.py run``."""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, Optional

import pytest

import flowrunner as fr
from metaflow_extensions.orchestrators.plugins.windmill.client import WindmillClient
from metaflow_extensions.orchestrators.plugins.windmill.compiler import WindmillTarget, compile_flow, flow_path, schedule_of

# A real server's worker has its own interpreter (docker-compose: python3 in the image).
WORKER_PYTHON = os.environ.get("WINDMILL_WORKER_PYTHON") or sys.executable
TOKEN = "e2e-windmill-Token-42"
WORKSPACE = "mfo"
FOLDER = "metaflow"


@dataclass
class Server:
    url: str
    token: Optional[str] = field(repr=False)  # pytest prints the fixture in failures
    workspace: str = WORKSPACE
    real: bool = False

    def client(self) -> WindmillClient:
        return WindmillClient(self.url, token=self.token, workspace=self.workspace)

    def env(self) -> Dict[str, str]:
        return {"WINDMILL_HOST": self.url, "WINDMILL_TOKEN": self.token or "", "WINDMILL_WORKSPACE": self.workspace}


def server_params():
    return [pytest.param("emulator", id="wm-emulator"),
            pytest.param("real", id="real", marks=[
                pytest.mark.real_windmill,
                pytest.mark.skipif(not os.environ.get("WINDMILL_HOST"), reason="WINDMILL_HOST is not set: no real Windmill")])]


@contextlib.contextmanager
def start_server(which):
    if which == "real":
        yield Server(os.environ["WINDMILL_HOST"].rstrip("/"), os.environ.get("WINDMILL_TOKEN"),
                     os.environ.get("WINDMILL_WORKSPACE", "admins"), real=True)
        return
    from metaflow_orchestrators.emulators.windmill import start

    with start(token=TOKEN, workspace=WORKSPACE) as handle:
        yield Server(handle.url, TOKEN, WORKSPACE)


def deploy(server: Server, name: str, **target_overrides) -> str:
    """Compile the example and upsert it (and its schedule); returns the flow path."""
    plan = fr.load_plan(name, engine="windmill")
    options = fr.deploy_options(name, engine="windmill")
    path = flow_path(plan.project.flow_name if plan.project else plan.flow_name, FOLDER)
    target = WindmillTarget(workspace=server.workspace, path=path, python=WORKER_PYTHON, **target_overrides)
    with server.client() as client:
        client.ensure_folder(FOLDER)
        client.upsert_flow(compile_flow(plan, options, target))
        schedule = schedule_of(plan, target)
        if schedule is not None:
            client.upsert_schedule(dict(schedule, enabled=False))  # tests start runs themselves
    return path


def run(server: Server, name: str, args=None, max_wait: float = 600, **target_overrides) -> Dict:
    """Deploy, run, wait: the final Windmill flow job."""
    path = deploy(server, name, **target_overrides)
    with server.client() as client:
        job_id = client.run_flow(path, args or {})
        return client.wait(job_id, max_wait=max_wait, poll=0.3)


artifacts = fr.comparable_artifacts


def flow_cli(name: str, *args: str, server: Server, check: bool = True, env: Optional[Dict[str, str]] = None):
    """``python flow.py --no-pylint windmill ...`` against the server (token via env)."""
    return fr.engine_cli("windmill", name, *args, env={**server.env(), **(env or {})}, check=check)
