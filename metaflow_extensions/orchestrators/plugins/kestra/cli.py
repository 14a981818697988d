"""``python flow.py kestra ...``: the shared commands (``..cli_common``: compile, create,
run, trigger, resume, status, list-runs, terminate, logs, send-event); Kestra's own
``resume --in-place`` (Kestra restart) is an option of the backend (backend.py)."""
from __future__ import annotations

from ..cli_common import engine_cli
from .backend import ENGINE

cli, kestra, commands = engine_cli(ENGINE, max_workers=16)
