"""``python flow.py windmill ...``: the shared commands (``..cli_common``: compile, create,
run, trigger, status, list-runs, terminate, logs), with Windmill's options."""
from __future__ import annotations

from ..cli_common import engine_cli
from .backend import ENGINE

# --max-workers defaults to 10, as in the metaflow-windmill package users know.
cli, windmill, commands = engine_cli(ENGINE, max_workers=10)
