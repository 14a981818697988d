"""A local, Kestra-compatible server that really executes flows (issue 3).

    from metaflow_orchestrators.emulators.kestra import start
    with start(version=2) as server:      # free port
        httpx.get(server.url + "/api/v1/configs")

An independent implementation of the Kestra engine: it never imports our compiler
(`metaflow_extensions.orchestrators`) or Metaflow. See docs/kestra-emulator.md.
"""
from __future__ import annotations

from typing import Any, Optional


def create_app(version: int = 2, username: Optional[str] = None, password: Optional[str] = None,
               workdir: Optional[str] = None, scheduler: bool = True) -> Any:
    """The Starlette ASGI app (imported lazily: the parser and Pebble need no web stack)."""
    from .app import create_app as _create_app
    return _create_app(version=version, username=username, password=password, workdir=workdir,
                       scheduler=scheduler)


class KestraEmulator:
    """A running emulator: ``url``, ``port``, ``engine`` and ``stop()``; a context manager."""

    def __init__(self, server: Any, app: Any):
        self.server = server
        self.app = app
        self.url = server.url
        self.port = server.port
        self.engine = app.state.engine

    def stop(self, timeout: float = 10.0) -> None:
        self.engine.shutdown()
        self.server.stop(timeout)

    def __enter__(self) -> "KestraEmulator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start(version: int = 2, port: int = 0, username: Optional[str] = None, password: Optional[str] = None,
          workdir: Optional[str] = None, host: str = "127.0.0.1") -> KestraEmulator:
    """Start the emulator in a background thread on ``host:port`` (0 = a free port)."""
    from ..serving import start_in_thread
    app = create_app(version=version, username=username, password=password, workdir=workdir)
    return KestraEmulator(start_in_thread(app, host, port), app)


__all__ = ["create_app", "start", "KestraEmulator"]
