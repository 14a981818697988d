"""Deterministic Metaflow run and task ids.

Task ids depend only on the step's position (foreach index path, and the iteration of a
recursive switch step), never on the run, so a retry, a resume and a join all compute
the same id without asking the engine. Metaflow requires them to be non-integer and free
of ``/ , : !`` (path separator and the ``--input-paths`` delimiters).
"""
from __future__ import annotations

import hashlib
import re
from typing import Optional, Sequence, Tuple

PARAMS_STEP = "_parameters"
PARAMS_TASK_ID = "params"
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


def run_id(engine: str, execution_id: str) -> str:
    """``<engine>-<execution id>``; hashed when the id has characters Metaflow refuses."""
    if _SAFE.match(execution_id):
        return "%s-%s" % (engine, execution_id)
    return "%s-%s" % (engine, hashlib.sha1(execution_id.encode("utf-8")).hexdigest()[:20])


def task_id(index_path: Sequence[int] = (), iteration: Optional[int] = None) -> str:
    """``t``, ``t-2``, ``t-2-0``; a recursive step adds ``-r<iteration>``."""
    parts = ["t"] + [str(int(i)) for i in index_path]
    if iteration is not None:
        parts.append("r%d" % int(iteration))
    return "-".join(parts)


def position_key(step: str, index_path: Sequence[int] = ()) -> str:
    """How engines name a step at a foreach position when reporting a switch choice."""
    if not index_path:
        return step
    return "%s@%s" % (step, index_text(index_path))


def parse_index_path(text: Optional[str]) -> tuple:
    """``"2.0"`` / ``"[2, 0]"`` / ``""`` -> ``(2, 0)`` / ``()``."""
    text = (text or "").strip().strip("[]")
    if not text:
        return ()
    return tuple(int(p) for p in re.split(r"[.,\s]+", text) if p != "")


def parse_task_id(text: str) -> Tuple[Tuple[int, ...], Optional[int]]:
    """Inverse of ``task_id``: ``"t-2-r3"`` -> ``((2,), 3)``. Lets a task find its own
    position (e.g. to name its foreach children) from the id Metaflow gave it."""
    parts = text.split("-")
    if not parts or parts[0] != "t":
        raise ValueError("%r is not a task id of this orchestrator" % text)
    iteration = None
    if len(parts) > 1 and parts[-1].startswith("r"):
        iteration = int(parts.pop()[1:])
    return tuple(int(p) for p in parts[1:]), iteration


def index_text(index_path: Sequence[int]) -> str:
    """``(2, 0)`` -> ``"2.0"``: how engines carry an index path as one foreach value."""
    return ".".join(str(int(i)) for i in index_path)
