"""A task's stdout and stderr into the Metaflow datastore, as Metaflow's remote integrations
save them, while the engine keeps showing them live.

Argo and Kubernetes pipe the step through ``python -m metaflow.mflog.tee`` (each line written
to the console and, mflog-decorated, to a file) and run ``python -m metaflow.mflog.save_logs``
afterwards. The entry runs the step in its own process, so it does the same at the file
descriptor level: fds 1 and 2 become pipes that a thread drains into the original fds and the
mflog files; when the step is over (passed or failed, tracebacks included) the files are saved
as the task's ``task`` log source. ``python flow.py logs``, ``task.stdout`` and the Metaflow UI
then read them like a local run's.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional

STREAMS = (("stdout", 1), ("stderr", 2))
ISOFORMAT = "%Y-%m-%dT%H:%M:%S.%f"  # metaflow.mflog.mflog.ISOFORMAT


@dataclass(frozen=True)
class TaskAddress:
    """Where the logs go: the task's pathspec, attempt and datastore."""

    flow_name: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    datastore: Optional[str]
    datastore_root: Optional[str]


class _Tee(threading.Thread):
    """Drains one pipe: raw bytes to the original fd, each line with its arrival time to a
    file (decorated as mflog at save time: this thread must not import Metaflow while the
    step imports it)."""

    def __init__(self, read_fd: int, console_fd: int, path: str) -> None:
        super().__init__(daemon=True)
        self.read_fd, self.console_fd, self.path = read_fd, console_fd, path

    def run(self) -> None:
        pending = b""
        with open(self.path, "ab") as out:
            while True:
                chunk = os.read(self.read_fd, 65536)
                if not chunk:
                    break
                _write_all(self.console_fd, chunk)
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                stamp = _now()
                for line in lines:
                    out.write(stamp + b"\t" + line + b"\n")
                out.flush()
            if pending:
                out.write(_now() + b"\t" + pending + b"\n")
        os.close(self.read_fd)


def _now() -> bytes:
    return datetime.utcnow().strftime(ISOFORMAT).encode("ascii")


def _decorated(path: str) -> bytes:
    """The file's lines in mflog format (``metaflow.mflog.mflog.decorate``), each with the
    time it arrived."""
    from metaflow.mflog import TASK_LOG_SOURCE
    from metaflow.mflog.mflog import decorate

    source = TASK_LOG_SOURCE.encode("ascii")
    out = []
    with open(path, "rb") as handle:
        for raw in handle:
            stamp, _, line = raw.partition(b"\t")
            now = datetime.strptime(stamp.decode("ascii"), ISOFORMAT)
            out.append(decorate(source, line, now=now))
    return b"".join(out)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except OSError:
            return  # the console went away: keep saving the files
        view = view[written:]


class Capture:
    """fds 1 and 2 teed into mflog files for the duration of the ``with`` block."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="mfo-logs-")
        self.paths: Dict[str, str] = {name: os.path.join(self.dir, "mflog_" + name) for name, _ in STREAMS}
        self._saved: List[int] = []
        self._tees: List[_Tee] = []

    def __enter__(self) -> "Capture":
        _flush()
        for name, fd in STREAMS:
            saved = os.dup(fd)
            read_fd, write_fd = os.pipe()
            os.dup2(write_fd, fd)
            os.close(write_fd)
            tee = _Tee(read_fd, saved, self.paths[name])
            tee.start()
            self._saved.append(saved)
            self._tees.append(tee)
        return self

    def __exit__(self, *exc) -> None:
        _flush()
        for (_, fd), saved in zip(STREAMS, self._saved):
            os.dup2(saved, fd)  # closes the pipe's last write end: the tee sees EOF
        for tee in self._tees:
            tee.join(timeout=30)
        for saved in self._saved:
            os.close(saved)

    def save(self, address: TaskAddress) -> None:
        """Store the files as the task's logs; a failure to save is reported, never fatal
        (as ``metaflow.mflog.save_logs``)."""
        try:
            from metaflow.mflog import TASK_LOG_SOURCE

            from .datastore import open_flow_datastore

            flow_datastore = open_flow_datastore(address.flow_name, address.datastore, address.datastore_root)
            task_datastore = flow_datastore.get_task_datastore(address.run_id, address.step, address.task_id,
                                                               address.attempt, mode="w")
            data = {name: _decorated(path) for name, path in self.paths.items() if os.path.exists(path)}
            task_datastore.save_logs(TASK_LOG_SOURCE, data)
        except Exception as ex:  # the run's outcome must not depend on log storage
            print("metaflow-orchestrators: could not save the task's logs: %r" % (ex,), file=sys.stderr)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
