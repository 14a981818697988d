"""Flow input resolution: submitted value or defaults, type parsing, validation
(source 0.21 `FlowInputOutput`, kestra.md §9.3)."""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

import yaml


class InputError(Exception):
    """Invalid or missing inputs; reported as a 422 like Kestra's ConstraintViolation."""

    def __init__(self, errors: List[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def resolve_inputs(declared: List[Dict[str, Any]], submitted: Dict[str, Any],
                   render_default: Optional[Any] = None, version: int = 1) -> Dict[str, Any]:
    """Typed values for every declared input; unknown submitted keys are ignored (as Kestra)."""
    values: Dict[str, Any] = {}
    errors: List[str] = []
    for inp in declared:
        iid = inp["id"]
        raw = submitted.get(iid)
        if raw is None:
            raw = inp.get("defaults")
            if isinstance(raw, str) and render_default is not None:
                raw = render_default(raw)  # defaults may be Pebble (FlowInputOutput.resolveDefaultValue@v1.3.34/@v2.0.0)
        # FlowInputOutput.readExecutionInputs throws at the first input (declaration order) that has an
        # error, with InputOutputValidationException's messages
        # (core/io/kestra/core/runners/FlowInputOutput.java@v1.3.31/@v2.0.0,
        # core/io/kestra/core/exceptions/InputOutputValidationException.java@v1.3.31/@v2.0.0).
        if raw is None:
            if inp.get("required", True):
                errors.append("Missing required input:%s" % iid)
                break
            values[iid] = None
            continue
        try:
            values[iid] = _typed(inp, raw, version)
        except ValueError as exc:
            errors.append("Invalid value for input `%s`. Cause: %s" % (iid, exc))
            break
    if errors:
        raise InputError(errors)
    return values


def _typed(inp: Dict[str, Any], raw: Any, version: int = 1) -> Any:
    kind = inp["type"]
    if kind == "INT":
        value = _int(raw, version)
        _bounds(inp, value)
        return value
    if kind == "FLOAT":
        value = float(raw) if not isinstance(raw, bool) else _fail("it must be a number")
        _bounds(inp, value)
        return value
    if kind in ("BOOL", "BOOLEAN"):
        # Boolean.valueOf: anything but case-insensitive "true" is false (kestra.md §9.3).
        return raw if isinstance(raw, bool) else str(raw).strip().lower() == "true"
    if kind in ("JSON", "ARRAY"):
        value = json.loads(raw) if isinstance(raw, str) else raw
        if kind == "ARRAY" and not isinstance(value, list):
            _fail("it must be an array")
        return value
    if kind == "YAML":
        return yaml.safe_load(raw) if isinstance(raw, str) else raw
    if kind in ("SELECT", "ENUM"):
        if str(raw) not in [str(v) for v in inp.get("values") or []] and not inp.get("allowCustomValue"):
            _fail("it must match the values `%s`" % inp.get("values"))
        return str(raw)
    if kind == "STRING":
        text = raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, (dict, list)) else str(raw)
        if inp.get("validator") and not re.fullmatch(inp["validator"], text):
            _fail("it must match the pattern `%s`" % inp["validator"])
        return text
    return raw if not isinstance(raw, (int, float)) else str(raw)


# The cause of a non-integer INT input: 1.x Integer.valueOf's NumberFormatException, 2.0 the
# conversion service's message (seen on the real 1.3.31 / 2.0.0 engines).
_INT_ERROR = {1: 'For input string: "%s"', 2: "Cannot convert value '%s' to Integer"}


def _int(raw: Any, version: int = 1) -> int:
    if isinstance(raw, bool):
        _fail("it must be an integer")
    if isinstance(raw, int):
        return raw
    # Integer.valueOf(value.toString()): no decimals, no surrounding blanks; its NumberFormatException
    # message is the cause (core/io/kestra/core/runners/FlowInputOutput.java@v1.3.31/@v2.0.0 `parseType`).
    text = str(raw)
    try:
        if text != text.strip() or "_" in text:
            raise ValueError(text)
        return int(text)
    except ValueError:
        _fail(_INT_ERROR[2 if version >= 2 else 1] % text)
    return 0


def _bounds(inp: Dict[str, Any], value: float) -> None:
    if inp.get("min") is not None and value < float(inp["min"]):
        _fail("it must be more than `%s`" % inp["min"])
    if inp.get("max") is not None and value > float(inp["max"]):
        _fail("it must be less than `%s`" % inp["max"])


def _fail(message: str) -> Any:
    raise ValueError(message)
