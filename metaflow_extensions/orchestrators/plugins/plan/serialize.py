"""Plan -> plain JSON-able dicts (for ``python flow.py <engine> plan`` and tests)."""
from __future__ import annotations

import dataclasses
import enum
from typing import Any


def to_dict(value: Any) -> Any:
    """Dataclasses become ``{"type": ClassName, field: ...}``; tuples become lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"type": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.name == "extra" or f.name.startswith("_"):
                continue
            out[f.name] = to_dict(getattr(value, f.name))
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_dict(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_dict(v) for k, v in value.items()}
    return value
