"""Shared fixtures: the target (the emulator, or a real Windmill when WINDMILL_HOST is set) and
a small REST client for it.

The conformance cases are hand-written OpenFlow with expectations from Windmill's source; the
same cases run unchanged against a real server (`make test-real`, marker `real_windmill`).
Cases that share files with the worker (markers in `tmp_path`) or read the emulator's
internals cannot run against a server in a container and are skipped there, never faked.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import pytest

from metaflow_orchestrators.emulators.windmill import start
from wmhelpers import TOKEN, WORKSPACE, Windmill

TARGETS = [
    pytest.param("emulator", id="wm-emulator"),
    pytest.param("real", id="real", marks=[
        pytest.mark.real_windmill,
        pytest.mark.skipif(not os.environ.get("WINDMILL_HOST"), reason="WINDMILL_HOST is not set: no real Windmill")]),
]


@dataclass
class Target:
    url: str
    token: str
    workspace: str
    handle: Optional[Any] = None  # the emulator's handle; None on a real server

    @property
    def real(self) -> bool:
        return self.handle is None


@pytest.fixture(scope="module", params=TARGETS)
def target(request: Any) -> Iterator[Target]:
    if request.param == "real":
        yield Target(os.environ["WINDMILL_HOST"].rstrip("/"), os.environ.get("WINDMILL_TOKEN", ""),
                     os.environ.get("WINDMILL_WORKSPACE", "admins"))
        return
    with start(token=TOKEN, workspace=WORKSPACE, worker_env={"WM_TEST_SECRET": "s3cret", "WM_TEST_OTHER": "x",
                                                              "METAFLOW_TEST_A": "a"},
               whitelist_env=("WM_TEST_SECRET", "METAFLOW_*")) as handle:
        yield Target(handle.url, TOKEN, WORKSPACE, handle)


@pytest.fixture(scope="module")
def emulator(target: Target) -> Any:
    """The emulator's handle: cases that read its internals or its worker settings."""
    if target.real:
        pytest.skip("reads the emulator's internals or worker settings")
    return target.handle


@pytest.fixture(scope="module")
def _client(target: Target) -> Iterator[Windmill]:
    client = Windmill(target.url, token=target.token, workspace=target.workspace)
    if target.real:
        client.ensure_folder("tests")
    yield client
    client.http.close()


@pytest.fixture
def wm(_client: Windmill, target: Target, request: Any) -> Windmill:
    if target.real and "tmp_path" in request.fixturenames:
        pytest.skip("shares marker files with the worker: a real Windmill's worker runs elsewhere")
    return _client
