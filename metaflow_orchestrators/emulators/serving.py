"""Run an emulator's ASGI app: in a background thread (tests) or in the foreground (CLI).

Shared by both emulators so that start-up, free-port binding and clean shutdown are
written once.
"""
from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import uvicorn


@dataclass
class RunningServer:
    """A server started by :func:`start_in_thread`; ``stop()`` shuts it down."""

    url: str
    port: int
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Its protocol must be IPPROTO_TCP, not 0: asyncio turns Nagle's
    algorithm off (TCP_NODELAY) only on connections whose ``proto`` is IPPROTO_TCP
    (``base_events._set_nodelay``), and with it on, every response after a connection's
    first waited ~40 ms for the client's delayed ACK (uvicorn writes headers and body
    apart). Kestra's Netty server has TCP_NODELAY on by default."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``app`` on ``host:port`` (0 = a free port) from a daemon thread."""
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    # Signals belong to the main thread's owner (pytest), not to a background server.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("emulator did not start on %s:%s" % (host, bound))
        time.sleep(0.01)
    return RunningServer("http://%s:%d" % (host, bound), bound, server, thread)


def serve_forever(make_app: Callable[[str], Any], host: str, port: int, name: str) -> None:
    """Listen on ``host:port``, build the app with ``make_app(url)``, and serve in the
    foreground until SIGINT/SIGTERM, then shut down and return normally.

    The socket comes first so that a taken port costs nothing and leaves nothing to tear
    down (an app may hold a V8 isolate), and so ``url`` names the port really bound.
    uvicorn re-raises the signal after its own clean shutdown (exit status -15); a
    requested stop is a success, so we take the signals ourselves."""
    try:
        sock = _bind(host, port)
    except OSError as ex:  # e.g. the port is taken: one line, not a traceback
        raise SystemExit("%s emulator: cannot listen on %s:%d: %s" % (name, host, port, ex.strerror or ex))
    url = "http://%s:%d" % (host, sock.getsockname()[1])
    app = make_app(url)
    print("%s emulator listening on %s" % (name, url), flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]

    def stop(*_: Any) -> None:
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    server.run(sockets=[sock])
