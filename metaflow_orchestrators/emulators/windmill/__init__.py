"""A local Windmill: OpenFlow over Windmill's REST API, executed with Windmill's semantics.

``create_app(...)`` builds the ASGI app; ``start(...)`` serves it from a thread on a free
port and returns a handle (``.url``, ``.token``, ``.workspace``, ``.stop()``, context manager).
"""
from __future__ import annotations

import shutil
import tempfile
from typing import Any, Mapping, Optional, Sequence

from .emulator import DEFAULT_TOKEN, DEFAULT_WORKSPACE, Emulator

__all__ = ["create_app", "start", "EmulatorHandle", "DEFAULT_TOKEN", "DEFAULT_WORKSPACE"]


def create_app(token: str = DEFAULT_TOKEN, workspace: str = DEFAULT_WORKSPACE, workdir: Optional[str] = None,
               whitelist_env: Sequence[str] = (), worker_env: Optional[Mapping[str, str]] = None,
               workspace_env: Optional[Mapping[str, str]] = None, keep_job_dirs: bool = False,
               base_url: Optional[str] = None, extra_workspaces: Sequence[str] = ()) -> Any:
    """The Starlette app; ``app.state.emulator`` is the :class:`Emulator` behind it."""
    from .app import build_app
    emulator = Emulator(token, [workspace] + list(extra_workspaces),
                        workdir or tempfile.mkdtemp(prefix="windmill-emulator-"),
                        worker_env=worker_env, whitelist_env=whitelist_env, workspace_env=workspace_env,
                        keep_job_dirs=keep_job_dirs)
    if base_url:
        emulator.set_base_url(base_url)
    return build_app(emulator)


class EmulatorHandle:
    """A running emulator: ``url`` (no trailing slash), ``token``, ``workspace``, ``stop()``."""

    def __init__(self, server: Any, app: Any, token: str, workspace: str, owned_workdir: Optional[str]) -> None:
        self._server = server
        self.app = app
        self.emulator: Emulator = app.state.emulator
        self.url: str = server.url
        self.port: int = server.port
        self.token = token
        self.workspace = workspace
        self._owned_workdir = owned_workdir

    def stop(self) -> None:
        self.emulator.engine.shutdown()
        self._server.stop()
        if self._owned_workdir:
            shutil.rmtree(self._owned_workdir, ignore_errors=True)

    def __enter__(self) -> "EmulatorHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start(token: str = DEFAULT_TOKEN, workspace: str = DEFAULT_WORKSPACE, port: int = 0,
          workdir: Optional[str] = None, whitelist_env: Sequence[str] = (),
          worker_env: Optional[Mapping[str, str]] = None, workspace_env: Optional[Mapping[str, str]] = None,
          host: str = "127.0.0.1", keep_job_dirs: bool = False) -> EmulatorHandle:
    """Serve an emulator from a background thread (tests, the README demo)."""
    from ..serving import start_in_thread
    owned = None
    if workdir is None:
        owned = workdir = tempfile.mkdtemp(prefix="windmill-emulator-")
    app = create_app(token=token, workspace=workspace, workdir=workdir, whitelist_env=whitelist_env,
                     worker_env=worker_env, workspace_env=workspace_env, keep_job_dirs=keep_job_dirs)
    server = start_in_thread(app, host, port)
    app.state.emulator.set_base_url(server.url)
    return EmulatorHandle(server, app, token, workspace, owned)
