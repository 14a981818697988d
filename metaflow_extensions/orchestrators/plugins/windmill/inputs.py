"""Trigger-time values -> the typed JSON args a Windmill flow's schema asks for.

Windmill takes a run's args as one JSON object and checks them against the flow's input
schema, so ``--run-param alpha=3`` (text) must become the integer 3 before it is sent. The
conversions are the ones Metaflow's own parameter options apply (click's INT, FLOAT, BOOL;
JSON text parsed), so ``--run-param flag=yes`` and ``--flag yes`` mean the same.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Mapping

from metaflow._vendor import click


def typed_args(flow: Mapping[str, Any], inputs: Mapping[str, Any]) -> Dict[str, Any]:
    """``inputs`` (typed values or their text) as the JSON values of the flow's schema."""
    properties = ((flow.get("schema") or {}).get("properties") or {})
    return {name: _typed(name, value, (properties.get(name) or {}).get("type")) for name, value in inputs.items()}


def _typed(name: str, value: Any, kind: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if kind == "integer":
            return click.INT.convert(value, None, None)
        if kind == "number":
            return click.FLOAT.convert(value, None, None)
        if kind == "boolean":
            return click.BOOL.convert(value, None, None)
    except click.BadParameter as ex:
        raise ValueError("parameter %r: %s" % (name, ex.format_message())) from None
    if kind in ("object", "array"):
        try:
            return json.loads(value)
        except ValueError as ex:
            raise ValueError("parameter %r expects JSON: %s" % (name, ex)) from None
    return value
