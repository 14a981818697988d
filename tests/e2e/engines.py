"""Every engine server a cross-engine end-to-end test runs on: the Kestra 1.x and 2.x
emulators, the Windmill emulator, and the real servers when they are there (their
``real`` parameters skip otherwise). Shared by the resume and code-package suites."""
import os
import subprocess
import sys
from typing import Iterator

import pytest

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [_TESTS, os.path.join(_TESTS, "kestra"), os.path.join(_TESTS, "windmill")]
import kestra_e2e as ke  # noqa: E402
import windmill_e2e as we  # noqa: E402


class Target:
    """One engine server and how to reach it from the flow's CLI and the Deployer."""

    def __init__(self, engine: str, server, module):
        self.engine, self.server, self.module = engine, server, module

    @property
    def real(self) -> bool:
        return bool(getattr(self.server, "real", False))

    def env(self):
        return {**os.environ, **self.server.env()}

    def deployer(self, path, **create):
        from metaflow import Deployer

        deployer = getattr(Deployer(str(path), show_output=False, env=self.env()), self.engine)()
        return deployer.create(**dict({"worker_python": self.module.WORKER_PYTHON}, **create))

    def cli(self, path, *args, check=True):
        proc = subprocess.run([sys.executable, str(path), "--no-pylint", self.engine, *args], capture_output=True,
                              text=True, env=self.env(), timeout=600, cwd=str(os.path.dirname(str(path))))
        if check and proc.returncode != 0:
            raise AssertionError("%s failed:\n%s\n%s" % (args, proc.stdout[-3000:], proc.stderr[-3000:]))
        return proc


def params() -> Iterator:
    for engine, module in (("kestra", ke), ("windmill", we)):
        for param in module.server_params():
            yield pytest.param((engine, param.values[0]), id="%s-%s" % (engine, param.id), marks=param.marks)


def start(request) -> Iterator[Target]:
    """The body of a module-scoped fixture parametrized with ``params()``. A real server must
    share this machine's files (a flow in pytest's tmp_path, a local datastore)."""
    engine, which = request.param
    module = ke if engine == "kestra" else we
    with module.start_server(which) as server:
        if getattr(server, "real", False) and not getattr(server, "local", False):
            pytest.skip("the test's flow and datastore live on this machine, which this server's worker does not see")
        yield Target(engine, server, module)


def subset(target: Target, request, cases) -> Target:
    """Within CI's time budget, a real engine (a session per major) and the Kestra 1.x emulator
    run only ``cases``; every case runs on the Kestra 2.x and Windmill emulators (and the 1.x
    differences that matter here, ForEach instead of Loop, are in ``cases``)."""
    limited = target.real or getattr(target.server, "version", None) == 1
    if limited and request.node.originalname not in cases:
        pytest.skip("here only %s runs (CI time); this case runs on the Kestra 2.x and Windmill emulators"
                    % sorted(cases))
    return target
