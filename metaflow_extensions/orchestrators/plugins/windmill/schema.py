"""The flow's input schema (Metaflow Parameters) and its schedule, as Windmill data.

Windmill shows a flow's ``schema`` as the run form (a JSON Schema object, windmill.md
§10); values given at trigger time arrive as ``flow_input`` and reach ``metaflow init``
through one input transform, never through code.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..plan import Parameter, ParamType, Plan
from ..plan.queries import require_defaults

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
_TYPES = {
    ParamType.INT: "integer",
    ParamType.FLOAT: "number",
    ParamType.BOOL: "boolean",
    ParamType.STRING: "string",
    ParamType.JSON: "object",
}


EVENT_PROPERTY = {"type": "object", "description": "The event that started this run: filled by `python flow.py "
                  "windmill send-event` (@trigger) or by the upstream run (@trigger_on_finish); leave empty."}


def flow_schema(plan: Plan, event_input: Optional[str] = None) -> Dict[str, Any]:
    """Typed fields, defaults, descriptions, required parameters, in the flow's order;
    plus the event payload input of a triggered flow."""
    properties = {p.name: parameter_property(p) for p in plan.parameters}
    if event_input:
        properties[event_input] = dict(EVENT_PROPERTY)
    return {
        "$schema": JSON_SCHEMA,
        "type": "object",
        "properties": properties,
        "required": [p.name for p in plan.parameters if is_required(p)],
        "order": list(properties),
    }


def is_required(param: Parameter) -> bool:
    return bool(param.required and param.default is None)


def parameter_property(param: Parameter) -> Dict[str, Any]:
    prop: Dict[str, Any] = {"type": _TYPES[param.type]}
    notes = [param.help] if param.help else []
    if param.default is not None:
        if param.type is ParamType.JSON and not isinstance(param.default, dict):
            # The UI's object editor wants an object; other JSON defaults are still
            # Metaflow's (applied when the field is left out), said in the description.
            notes.append("JSON; default: %s" % _json_text(param.default))
        else:
            prop["default"] = param.default
    elif param.type is ParamType.JSON:
        notes.append("JSON")
    if notes:
        prop["description"] = " ".join(notes)
    return prop


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def default_args(plan: Plan, what: str) -> Dict[str, Any]:
    """The run arguments of a run nobody fills in (a schedule): every default."""
    require_defaults(plan, what)
    return {p.name: p.default for p in plan.parameters if p.default is not None}


def schedule_body(plan: Plan, path: str, summary: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """``NewSchedule`` for ``@schedule``: 6-field cron (seconds first), Croner ``v2``
    numbering (0/7 = Sunday, as the plan's standard cron), the whole object every time
    (schedule update clears omitted fields, windmill-errata 7)."""
    if plan.schedule is None:
        return None
    return {
        "path": path,
        "schedule": "0 " + plan.schedule.cron,
        "timezone": plan.schedule.timezone or "UTC",
        "cron_version": "v2",
        "script_path": path,
        "is_flow": True,
        "args": default_args(plan, "@schedule"),
        "enabled": True,
        "summary": summary or "@schedule of %s (%s)" % (plan.flow_name, plan.schedule.source),
    }
