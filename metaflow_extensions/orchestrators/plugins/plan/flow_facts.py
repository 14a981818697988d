"""Flow-level facts: parameters, configs, @schedule, @trigger, @trigger_on_finish, @project.

Read after Metaflow's CLI ran ``flow_init`` on every flow decorator (as it does before any
orchestrator command), so deploy-time values and project names are already resolved.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from .errors import PlanError
from .model import EventTrigger, FlowTrigger, Parameter, ParamType, Project, Schedule
from .schedule import to_schedule

_PLAIN_TYPES = {int: ParamType.INT, float: ParamType.FLOAT, bool: ParamType.BOOL, str: ParamType.STRING}


def flow_decorators(flow, name: str) -> List[Any]:
    return list(flow._flow_decorators.get(name) or [])


def parameters(flow) -> Tuple[Parameter, ...]:
    return tuple(
        _parameter(var, param)
        for var, param in flow._get_parameters()
        if not getattr(param, "IS_CONFIG_PARAMETER", False)
    )


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def _parameter(var: str, param) -> Parameter:
    from metaflow.parameters import DeployTimeField, JSONTypeClass, deploy_time_eval

    kwargs = param.kwargs
    kind = _param_type(param, kwargs.get("type"), JSONTypeClass)
    default = kwargs.get("default")
    if isinstance(default, DeployTimeField):
        default = deploy_time_eval(default)
    if kind is ParamType.JSON and isinstance(default, str):
        default = json.loads(default)
    elif default is not None and kind is not ParamType.JSON:
        default = _cast(default, kind, param.name)
    if _has_nul(default):
        # No engine task can receive it: process arguments and environment values end at NUL.
        raise PlanError("the default of parameter %r holds a NUL character, which no engine task can receive"
                        % param.name)
    return Parameter(
        name=param.name,
        python_name=var,
        type=kind,
        default=default,
        required=bool(kwargs.get("required")) and default is None,
        help=kwargs.get("help") or None,
    )


def _param_type(param, declared, json_class) -> ParamType:
    if type(param).__name__ == "IncludeFile":
        raise PlanError(
            "IncludeFile parameter *%s* is not supported: its content is uploaded by the "
            "local runtime at start, which an engine trigger cannot do" % param.name
        )
    if isinstance(declared, json_class):
        return ParamType.JSON
    if declared in _PLAIN_TYPES:
        return _PLAIN_TYPES[declared]
    if declared is None:
        return ParamType.STRING
    raise PlanError("parameter *%s* has type %r, which no engine input can carry" % (param.name, declared))


def _cast(value, kind: ParamType, name: str):
    try:
        if kind is ParamType.BOOL and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "y")
        return {ParamType.INT: int, ParamType.FLOAT: float, ParamType.BOOL: bool, ParamType.STRING: str}[kind](value)
    except (TypeError, ValueError):
        raise PlanError("default %r of parameter *%s* is not a %s" % (value, name, kind.value))


def configs(flow) -> Tuple[Tuple[str, str], ...]:
    """Config name -> JSON of ``[value, is_plain]``, as ``dump_config_values`` stores it."""
    from metaflow.flowspec import FlowStateItems

    found = flow._flow_state[FlowStateItems.CONFIGS] or {}
    return tuple(
        (name, json.dumps([value, bool(plain)], sort_keys=True, default=dict))
        for name, (value, plain) in sorted(found.items())
    )


def schedule(flow) -> Optional[Schedule]:
    decos = flow_decorators(flow, "schedule")
    if not decos:
        return None
    deco = decos[0]
    return to_schedule(getattr(deco, "schedule", None), getattr(deco, "timezone", None))


def event_triggers(flow) -> Tuple[EventTrigger, ...]:
    found = []
    for deco in flow_decorators(flow, "trigger"):
        deco.format_deploytime_value()
        for trig in deco.triggers:
            params = trig.get("parameters") or {}
            found.append(EventTrigger(str(trig["name"]), tuple(sorted((str(k), str(v)) for k, v in params.items()))))
    return tuple(found)


def flow_triggers(flow, project: Optional[Project]) -> Tuple[FlowTrigger, ...]:
    """Upstream flows, project-aware the way Argo names them: an upstream without its own
    project/branch is looked up in the deploying flow's project and branch."""
    found = []
    for deco in flow_decorators(flow, "trigger_on_finish"):
        deco.format_deploytime_value()
        for trig in deco.triggers:
            proj = trig.get("project") or (project.name if project else None)
            branch = trig.get("branch") or (project.branch if project else None)
            name = ".".join(v for v in (proj, branch, trig["flow"]) if v)
            found.append(FlowTrigger(str(trig["flow"]), name, proj, branch))
    return tuple(found)


def project(flow) -> Optional[Project]:
    decos = flow_decorators(flow, "project")
    if not decos:
        return None
    from metaflow import current

    options: Dict[str, Any] = dict(decos[0].get_top_level_options())
    return Project(
        name=current.project_name,
        branch=current.branch_name,
        production=bool(current.is_production),
        flow_name=current.project_flow_name,
        raw_branch=options.get("branch") or None,
    )
