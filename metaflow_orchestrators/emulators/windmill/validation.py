"""Schedule fields, paths, and what this emulator cannot execute.

What the server refuses in a flow body is its serde model (`serde_model.py`); the OpenFlow JSON
schema is `wmill lint`'s (npm windmill-yaml-validator, run by our compile tests), not the
server's, so it is not applied here.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .scripts import SUPPORTED_LANGUAGES

# NewSchedule/flow `path` description: `u/<user>/<path>` or `f/<folder>/<path>` (spec 1.743).
PATH_RE = re.compile(r"^(u|f)/[A-Za-z0-9_-]+/[A-Za-z0-9_./-]*[A-Za-z0-9_-]$")


def walk_modules(modules: List[Dict[str, Any]], where: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Every module at any depth, with a readable location."""
    for index, module in enumerate(modules or []):
        here = "%s/%d" % (where, index)
        yield here, module
        value = module.get("value") or {}
        kind = value.get("type")
        if kind in ("forloopflow", "whileloopflow"):
            yield from walk_modules(value.get("modules") or [], here + "/value/modules")
        elif kind in ("branchall", "branchone"):
            for b, branch in enumerate(value.get("branches") or []):
                yield from walk_modules(branch.get("modules") or [], "%s/value/branches/%d/modules" % (here, b))
            if kind == "branchone":
                yield from walk_modules(value.get("default") or [], here + "/value/default")


def emulator_limits(value: Dict[str, Any]) -> List[str]:
    """Valid Windmill this emulator does not execute: refused with the reason (400), never
    accepted and then run differently."""
    problems: List[str] = []
    everything = list(walk_modules(value.get("modules") or [], "/value/modules"))
    for key in ("failure_module", "preprocessor_module"):
        if isinstance(value.get(key), dict):
            everything.append(("/value/%s" % key, value[key]))
    for where, module in everything:
        module_value = module.get("value") or {}
        if module_value.get("type") == "rawscript" and module_value.get("language") not in SUPPORTED_LANGUAGES:
            problems.append("%s/value/language: %r is valid Windmill but this emulator only executes %s"
                            % (where, module_value.get("language"), " and ".join(SUPPORTED_LANGUAGES)))
        if module_value.get("type") == "aiagent":
            problems.append("%s/value/type: aiagent modules are not executed by this emulator" % where)
        if module.get("suspend"):
            problems.append("%s/suspend: approval/suspend steps are not implemented by this emulator" % where)
    return problems


def validate_schedule_fields(body: Dict[str, Any], creating: bool) -> List[str]:
    """Required fields: NewSchedule (path, schedule, timezone, script_path, is_flow) and
    EditSchedule (schedule, timezone, args) in spec 1.743."""
    problems = []
    required = ("path", "schedule", "timezone", "script_path", "is_flow") if creating else ("schedule", "timezone", "args")
    for name in required:
        if name not in body:
            problems.append("missing field `%s`" % name)
    return problems


def check_path(path: Optional[str], what: str = "path") -> Optional[str]:
    if not path or not PATH_RE.match(path):
        return "%s %r must be of the form u/<user>/<name> or f/<folder>/<name>" % (what, path)
    return None
