"""Flow and schedule validation: the official OpenFlow schema plus server-side rules.

The schema is `dist/gen/openflow.json` of npm `windmill-yaml-validator@1.775.2` (the one
`wmill lint` uses), shipped here as package data (Apache-2.0; windmill.md §15).
"""
from __future__ import annotations

import copy
import json
import os
import re
from functools import lru_cache
from typing import Any, Dict, Iterator, List, Optional, Tuple

import jsonschema

from .scripts import SUPPORTED_LANGUAGES

SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "openflow-1.775.2.json")
# NewSchedule/flow `path` description: `u/<user>/<path>` or `f/<folder>/<path>` (spec 1.743).
PATH_RE = re.compile(r"^(u|f)/[A-Za-z0-9_-]+/[A-Za-z0-9_./-]*[A-Za-z0-9_-]$")
# FlowModule.id: "alphanumeric, underscore, hyphen" (openflow spec description).
MODULE_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
CONTAINER_TYPES = ("forloopflow", "whileloopflow", "branchall", "branchone")


class ValidationError(Exception):
    """A 400: the message lists every problem found."""

    def __init__(self, problems: List[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@lru_cache(maxsize=None)
def _spec() -> Dict[str, Any]:
    with open(SCHEMA_FILE, encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=None)
def _validator(component: str) -> jsonschema.Draft7Validator:
    root = dict(_spec())
    root["$ref"] = "#/components/schemas/%s" % component
    return jsonschema.Draft7Validator(root)


def _module_value_branches() -> Dict[str, int]:
    """Which `oneOf` branch of FlowModuleValue belongs to which `type` (its discriminator)."""
    schemas = _spec()["components"]["schemas"]
    mapping: Dict[str, int] = {}
    for index, ref in enumerate(schemas["FlowModuleValue"]["oneOf"]):
        target = schemas[ref["$ref"].rsplit("/", 1)[-1]]
        for name in target.get("properties", {}).get("type", {}).get("enum", []):
            mapping[name] = index
    return mapping


def _explain(error: jsonschema.ValidationError) -> Iterator[str]:
    """Turn a `oneOf` failure into the errors of the branch named by the `type`
    discriminator, as AJV with `discriminator: true` reports them."""
    if error.validator == "oneOf" and error.context and isinstance(error.instance, dict):
        kind = error.instance.get("type")
        branch = _module_value_branches().get(kind) if isinstance(kind, str) else None
        if branch is None and "type" in error.instance and error.schema is _spec()["components"]["schemas"].get(
                "FlowModuleValue"):
            yield "%s: unknown module type %r" % (_where(error.absolute_path), kind)
            return
        chosen = [e for e in error.context if branch is None or e.relative_schema_path[0] == branch]
        if chosen and branch is not None:
            for sub in chosen:
                yield from _explain(sub)
            return
    yield "%s: %s" % (_where(error.absolute_path), error.message)


def _where(path: Any) -> str:
    parts = [str(p) for p in path]
    return "/" + "/".join(parts) if parts else "/"


def _normalize_bare_numbers(value: Any) -> Any:
    """The server deserializes a bare integer `timeout` (i32) and `parallelism` (u16), and AJV
    with `discriminator: true` accepts them (windmill.md §15.3); wrap them as static
    transforms so the stricter Draft-7 check agrees."""
    if isinstance(value, list):
        return [_normalize_bare_numbers(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _normalize_bare_numbers(v) for k, v in value.items()}
    is_module = "id" in out and "value" in out
    is_loop = out.get("type") in ("forloopflow", "whileloopflow")
    for key, applies in (("timeout", is_module), ("parallelism", is_loop)):
        number = out.get(key)
        if applies and isinstance(number, int) and not isinstance(number, bool):
            out[key] = {"type": "static", "value": number}
    return out


def normalize_flow_value(value: Dict[str, Any]) -> Dict[str, Any]:
    return _normalize_bare_numbers(copy.deepcopy(value))


def validate_openflow(body: Dict[str, Any]) -> None:
    """Schema + server-side rules for an `OpenFlow` (create/update body); raises ValidationError."""
    if not isinstance(body, dict):
        raise ValidationError(["body must be a JSON object"])
    doc = _normalize_bare_numbers(copy.deepcopy(body))
    openflow = {k: v for k, v in doc.items() if k in ("summary", "description", "value", "schema",
                                                         "on_behalf_of_email")}
    problems: List[str] = []
    for error in sorted(_validator("OpenFlow").iter_errors(openflow), key=lambda e: list(map(str, e.path))):
        problems.extend(_explain(error))
    if not problems:
        problems.extend(server_rules(doc["value"]))
    if problems:
        raise ValidationError(_dedupe(problems))


def _dedupe(items: List[str]) -> List[str]:
    seen: Dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


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


def server_rules(value: Dict[str, Any]) -> List[str]:
    """Rules beyond the schema (windmill.md §2.2, §2.3, §15.3) and what this emulator cannot run."""
    problems: List[str] = []
    seen: Dict[str, str] = {}
    everything = list(walk_modules(value.get("modules") or [], "/value/modules"))
    for key, reserved in (("failure_module", "failure"), ("preprocessor_module", "preprocessor")):
        special = value.get(key)
        if special is not None:
            problems.extend(_special_module(special, key, reserved))
            everything.append(("/value/%s" % key, special))
    for where, module in everything:
        problems.extend(_module_rules(where, module, seen, value))
    return problems


def _special_module(module: Dict[str, Any], key: str, reserved: str) -> List[str]:
    """failure_module / preprocessor_module: fixed id, script or rawscript only (openflow FlowValue)."""
    problems = []
    if module.get("id") != reserved:
        problems.append("/value/%s/id: must be %r, got %r" % (key, reserved, module.get("id")))
    if (module.get("value") or {}).get("type") not in ("script", "rawscript"):
        problems.append("/value/%s/value/type: only script and rawscript are allowed" % key)
    return problems


def _module_rules(where: str, module: Dict[str, Any], seen: Dict[str, str], flow: Dict[str, Any]) -> List[str]:
    problems: List[str] = []
    module_id = module.get("id", "")
    if not MODULE_ID_RE.match(module_id):
        problems.append("%s/id: %r must use letters, digits, '_' or '-'" % (where, module_id))
    if module_id in seen:
        # Module ids are unique in the whole flow: `results.<id>` names one module (windmill.md §2.3).
        problems.append("%s/id: duplicate module id %r (also at %s)" % (where, module_id, seen[module_id]))
    else:
        seen[module_id] = where
    is_special = where.startswith("/value/failure_module") or where.startswith("/value/preprocessor_module")
    if module_id in ("failure", "preprocessor") and not is_special:
        problems.append("%s/id: %r is reserved for the %s module" % (where, module_id, module_id))
    value = module.get("value") or {}
    if value.get("type") == "rawscript" and value.get("language") not in SUPPORTED_LANGUAGES:
        problems.append("%s/value/language: %r is valid Windmill but this emulator only executes %s"
                        % (where, value.get("language"), " and ".join(SUPPORTED_LANGUAGES)))
    if value.get("type") == "aiagent":
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
