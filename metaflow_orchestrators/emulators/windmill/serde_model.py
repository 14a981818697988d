"""What the Windmill server itself accepts in a flow body: its serde model, not the OpenFlow schema.

`POST /flows/create|update` deserializes the body into `NewFlow`/`EditFlow`
(backend/windmill-types/src/flows.rs@v1.788.0); `value` goes through `validate_flow_value`,
which parses a `FlowValue` and then every module's value (`FlowModule::traverse_modules`,
nested loops and branches included). A serde failure is axum's JSON rejection: **422**
"Failed to deserialize the JSON body into the target type: …". The server never checks the
OpenFlow JSON schema (that is `wmill lint` / npm windmill-yaml-validator, which our compile
tests run), so the emulator accepts what serde accepts: a missing module `id` (default
"default"), a missing forloop `skip_failures` (default true), … and refuses what serde refuses:
a `stop_after_if` without `skip_if_stopped`, a loop without `iterator`, ….
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

# axum's `JsonRejection::JsonDataError` text (axum/src/extract/rejection.rs).
REJECTION = "Failed to deserialize the JSON body into the target type: "

# Required fields of each `FlowModuleValue` variant (`impl Deserialize for FlowModuleValue`,
# flows.rs@v1.788.0: `ok_or_else(|| missing_field(..))`).
REQUIRED_BY_TYPE: Dict[str, tuple] = {
    "script": ("path",), "flow": ("path",), "forloopflow": ("iterator", "modules"),
    "whileloopflow": ("modules",), "branchone": ("branches", "default"), "branchall": ("branches",),
    "rawscript": ("content", "language"), "flowscript": ("id", "language"), "identity": (),
    "aiagent": ("tools",),
}


class SerdeError(Exception):
    """The 422 text the server answers."""


def check_flow_body(body: Any, creating: bool) -> None:
    """`NewFlow` (path and summary required) or `EditFlow` (path optional)."""
    if not isinstance(body, dict):
        raise SerdeError(REJECTION + "invalid type: expected struct NewFlow")
    required = ("path", "summary", "value") if creating else ("summary", "value")
    for name in required:
        if name not in body:
            raise SerdeError(REJECTION + "missing field `%s`" % name)
    for name in ("path", "summary"):
        if name in body and not (isinstance(body[name], str) or (name == "path" and not creating and body[name] is None)):
            raise SerdeError(REJECTION + "%s: invalid type: expected a string" % name)
    problem = flow_value_problem(body["value"])
    if problem:
        raise SerdeError(REJECTION + "value: Invalid flow value: " + problem)


def flow_value_problem(value: Any) -> Optional[str]:
    """`validate_flow_value`: FlowValue, then every module value (traverse_modules)."""
    if not isinstance(value, dict):
        return "invalid type: expected struct FlowValue"
    if not isinstance(value.get("modules"), list):
        return "missing field `modules`" if "modules" not in value else "modules: invalid type: expected a sequence"
    modules: List[Any] = list(value["modules"])
    modules += [value[k] for k in ("failure_module", "preprocessor_module") if value.get(k) is not None]
    return _modules_problem(modules)


def _modules_problem(modules: List[Any]) -> Optional[str]:
    for module in modules:
        problem = _module_problem(module)
        if problem:
            return problem
    return None


def _module_problem(module: Any) -> Optional[str]:
    """`FlowModule`: `value` required, `id` defaults to "default" (`default_id`)."""
    if not isinstance(module, dict):
        return "invalid type: expected struct FlowModule"
    if "value" not in module:
        return "missing field `value`"
    if "id" in module and not isinstance(module["id"], str):
        return "id: invalid type: expected a string"
    module_id = module.get("id", "default")
    for key in ("stop_after_if", "stop_after_all_iters_if"):
        problem = _stop_problem(module.get(key))
        if problem:
            return problem
    skip_if = module.get("skip_if")
    if skip_if is not None and not (isinstance(skip_if, dict) and isinstance(skip_if.get("expr"), str)):
        return "missing field `expr`"
    problem = _retry_problem(module.get("retry"), module_id)
    if problem:
        return problem
    for key in ("sleep", "timeout"):
        problem = _transform_problem(module.get(key), bare_ok=(key == "timeout"))
        if problem:
            return problem
    # traverse_modules: "Module '<id>': <serde error of the value>".
    problem = _value_problem(module["value"])
    return "Module '%s': %s" % (module_id, problem) if problem else None


def _stop_problem(rule: Any) -> Optional[str]:
    """`StopAfterIf { expr: String, skip_if_stopped: bool, error_message: Option }`:
    `skip_if_stopped` has no serde default (flows.rs@v1.788.0)."""
    if rule is None:
        return None
    if not isinstance(rule, dict):
        return "invalid type: expected struct StopAfterIf"
    for name, kind in (("expr", str), ("skip_if_stopped", bool)):
        if name not in rule:
            return "missing field `%s`" % name
        if not isinstance(rule[name], kind):
            return "%s: invalid type" % name
    return None


def _retry_problem(retry: Any, module_id: str) -> Optional[str]:
    """`validate_retry` (flows.rs@v1.788.0): exponential attempts with a 0 s base is refused."""
    if not isinstance(retry, dict):
        return None
    exponential = retry.get("exponential") or {}
    if (exponential.get("attempts") or 0) > 0 and (exponential.get("seconds") or 0) == 0:
        return ("Module '%s': Exponential backoff base (seconds) must be greater than 0. "
                "A base of 0 would cause immediate retries." % module_id)
    return None


def _transform_problem(transform: Any, bare_ok: bool = False) -> Optional[str]:
    """`InputTransform` is tagged by `type`: static (value defaults to null), javascript (expr
    defaults to ""), ai; module `timeout` also takes a bare integer (`raw_value_to_input_transform`)."""
    if transform is None or (bare_ok and isinstance(transform, int) and not isinstance(transform, bool)):
        return None
    if not isinstance(transform, dict) or "type" not in transform:
        return "missing field `type`"
    if transform["type"] not in ("static", "javascript", "ai"):
        return "unknown variant `%s`, expected one of `static`, `javascript`, `ai`" % transform["type"]
    return None


def _value_problem(value: Any) -> Optional[str]:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return "missing field `type`"
    kind = value["type"]
    for name in REQUIRED_BY_TYPE.get(kind, ()):
        if value.get(name) is None:
            return "missing field `%s`" % name
    for transform in (value.get("input_transforms") or {}).values():
        problem = _transform_problem(transform)
        if problem:
            return problem
    if kind == "forloopflow":
        problem = _transform_problem(value["iterator"])
        if problem:
            return problem
    nested: List[Any] = list(value.get("modules") or []) if kind in ("forloopflow", "whileloopflow") else []
    if kind in ("branchone", "branchall"):
        for branch in value.get("branches") or []:
            if not isinstance(branch, dict) or "modules" not in branch:
                return "missing field `modules`"  # Branch.modules has no default
            nested.extend(branch["modules"] or [])
        if kind == "branchone":
            nested.extend(value.get("default") or [])
    return _modules_problem(nested)


def materialize_defaults(value: Dict[str, Any]) -> Dict[str, Any]:
    """A deployed flow runs from its re-serialized value: the dependency job parses every module
    value and writes it back to `flow.value` and `flow_version_lite` (`lock_modules`,
    `reduce_flow`, windmill-worker/src/worker_lockfiles.rs@v1.788.0),
    which spells out serde's defaults (flows.rs@v1.788.0): forloop `skip_failures` true and
    `parallel` false, whileloop `skip_failures` false, every `Branch.skip_failure` true and
    `Branch.parallel` true, branchall `parallel` true. The worker later reads these fields raw
    with `unwrap_or(false)` (worker_flow.rs@v1.788.0), so a preview (never re-serialized) and a
    deployed flow differ when they are omitted."""
    out = dict(value)
    out["modules"] = [_materialize_module(m) for m in value.get("modules") or []]
    for key in ("failure_module", "preprocessor_module"):
        if isinstance(value.get(key), dict):
            out[key] = _materialize_module(value[key])
    return out


def _materialize_module(module: Dict[str, Any]) -> Dict[str, Any]:
    if not isinstance(module, dict) or not isinstance(module.get("value"), dict):
        return module
    out = dict(module)
    value = dict(module["value"])
    kind = value.get("type")
    if kind == "forloopflow":
        value.setdefault("skip_failures", True)
        value.setdefault("parallel", False)
    elif kind == "whileloopflow":
        value.setdefault("skip_failures", False)
    if kind in ("forloopflow", "whileloopflow"):
        value["modules"] = [_materialize_module(m) for m in value.get("modules") or []]
    if kind in ("branchone", "branchall"):
        if kind == "branchall":
            value.setdefault("parallel", True)
        branches = []
        for branch in value.get("branches") or []:
            branch = dict(branch)
            branch.setdefault("skip_failure", True)
            branch.setdefault("parallel", True)
            branch["modules"] = [_materialize_module(m) for m in branch.get("modules") or []]
            branches.append(branch)
        value["branches"] = branches
        if kind == "branchone":
            value["default"] = [_materialize_module(m) for m in value.get("default") or []]
    out["value"] = value
    return out
