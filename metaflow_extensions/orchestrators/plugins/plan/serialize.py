"""Plan -> plain JSON-able dicts (for ``python flow.py <engine> plan`` and tests)."""
from __future__ import annotations

import dataclasses
import enum
from typing import Any

from .visit import BlockVisitor


def to_dict(value: Any) -> Any:
    """Dataclasses become ``{"_type": ClassName, field: ...}``; tuples become lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"_type": type(value).__name__}
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


def outline(seq) -> list:
    """A compact nested view of the tree, for reading and for asserting structure:
    ``["start", {"split": "start", "branches": [["a"], ["b"]]}, "join", "end"]``."""
    return [_Outline().visit(block) for block in seq]


class _Outline(BlockVisitor):
    def step(self, block):
        return block.name + ("*" if block.recursive else "")

    def split(self, block):
        return {"split": block.head.name, "branches": [outline(b) for b in block.branches]}

    def foreach(self, block):
        return {"foreach": block.head.name, "body": outline(block.body)}

    def switch(self, block):
        name = block.head.name + ("*" if block.head.recursive else "")
        cases = {"+".join(c.keys): (["<loop>"] if c.loops_back else outline(c.body)) for c in block.cases}
        return {"switch": name, "cases": cases, "merge": block.merge}


def from_dict(data: Any) -> Any:
    """The inverse of :func:`to_dict` (a plan read back from ``<engine> plan`` output)."""
    import typing

    from . import model

    if isinstance(data, list):
        return tuple(from_dict(v) for v in data)
    if not isinstance(data, dict):
        return data
    cls = getattr(model, str(data.get("_type", "")), None)
    if cls is None or not dataclasses.is_dataclass(cls):
        return {k: from_dict(v) for k, v in data.items()}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = from_dict(data[f.name])
            hint = hints.get(f.name)
            if isinstance(hint, type) and issubclass(hint, enum.Enum):
                value = hint(value)
            kwargs[f.name] = value
    return cls(**kwargs)
