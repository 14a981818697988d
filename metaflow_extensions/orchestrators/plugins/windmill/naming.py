"""Windmill names for Metaflow names: flow paths and module ids.

Checked here so a bad name fails at compile time with the rule, not at deploy time.
Module ids are read in JavaScript transforms as ``results.<id>``, and Windmill only
awaits a lazy result whose id matches ``[a-zA-Z_0-9]+`` (``windmill-jseval``
``RE``@1.788.0), so every id we emit is an ASCII identifier.
"""
from __future__ import annotations

import hashlib
import re
from typing import Optional

from ..plan import Plan, PlanError

_STEP = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATH_NAME_OK = re.compile(r"[A-Za-z0-9_.]+")
_PATH_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]")
_FOLDER = re.compile(r"[A-Za-z0-9_-]+")
# Windmill reserves these module ids (openflow.openapi.yaml: failure_module,
# preprocessor_module).
RESERVED_IDS = frozenset({"failure", "preprocessor"})
# Our own modules are "mf__<kind>__<step>"; a step whose name could clash moves under
# "mf__step__", a kind no structural module uses, so the mapping stays injective.
PREFIX = "mf__"
MAX_NAME = 100


def check_steps(plan: Plan) -> None:
    for task in plan.steps():
        if not _STEP.fullmatch(task.name):
            raise PlanError("Windmill module ids must be ASCII identifiers ([A-Za-z_][A-Za-z0-9_]*); "
                            "rename the step", task.name)


def step_id(step: str) -> str:
    """The module id of a step: the step name itself, readable in Windmill's graph."""
    if step.startswith(PREFIX) or step in RESERVED_IDS:
        return PREFIX + "step__" + step
    return step


def own_id(kind: str, step: str = "", extra: str = "") -> str:
    """A structural module (init, loop, branch, ...) named after the step it serves."""
    return PREFIX + "__".join(p for p in (kind, step, extra) if p)


def check_folder(folder: str) -> str:
    if not _FOLDER.fullmatch(folder or ""):
        raise ValueError("Windmill folder %r must match [A-Za-z0-9_-]+" % folder)
    return folder


def check_path(path: str) -> str:
    """A whole flow path given by the user: ``f/<folder>/<name>``, segments ``[\\w-]+``."""
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != "f" or not all(_FOLDER.fullmatch(p) for p in parts[1:]):
        raise ValueError("Windmill flow path %r must be f/<folder>/<name> with [A-Za-z0-9_-]+ segments" % path)
    return path


def step_of(module_id: str) -> Optional[str]:
    """The step a module runs, or None for our own structural modules."""
    if module_id.startswith(PREFIX + "step__"):
        return module_id[len(PREFIX + "step__"):]
    if module_id.startswith(PREFIX) or module_id in RESERVED_IDS:
        return None
    return module_id


def flow_path(deployed_name: str, folder: str = "metaflow") -> str:
    """``f/<folder>/<name>``. Windmill path segments are ``[\\w-]+``
    (frontend ``Path.svelte``): dots become ``-`` (injective, since such a name holds
    no ``-``); any other name keeps its safe characters plus a hash of the whole, as
    does a name longer than ``MAX_NAME``."""
    check_folder(folder)
    digest = hashlib.sha1(deployed_name.encode("utf-8")).hexdigest()[:12]
    if _PATH_NAME_OK.fullmatch(deployed_name):
        name = deployed_name.replace(".", "-")
    else:
        name = (_PATH_NAME_BAD.sub("_", deployed_name) or "flow") + "-" + digest
    if len(name) > MAX_NAME:
        name = name[:MAX_NAME - 13] + "-" + digest
    return "f/%s/%s" % (folder, name)
