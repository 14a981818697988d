"""What differs between Kestra 1.x and 2.x flows, in one place (kestra.md §1, §14).

Each profile answers the same questions (how to iterate, how to address an output of
the current iteration, how to declare an input or an upstream-flow trigger), so the
compiler never branches on the version itself.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

from ..plan import Parameter, ParamType

_PEBBLE_MARKERS = ("{{", "{%", "{#")


class Profile:
    version = 2
    isolated_iterations = True  # 2.x Loop iterations are sub-executions
    index_path = "{{ item.value }}"
    max_attempts_key = "maxAttempts"
    bool_type = "BOOL"

    @staticmethod
    def ref(task_id: str) -> str:
        # Subscript form: hyphenated ids and Pebble keywords stay lookups (kestra.md §2.4).
        return "outputs['%s']" % task_id

    def same_scope(self, task_id: str, depth: int) -> str:
        """An output of a task that ran in the same foreach iteration (or at top level)."""
        return self.ref(task_id)

    def branches_of(self, head: str, depth: int, sure: bool) -> str:
        """The position-keyed branch report of a switch step in this scope."""
        return "%s.vars.branches%s" % (self.ref(head), "" if sure else " ?? {}")

    def foreach(self, task_id: str, values: str, limit: int) -> Dict[str, Any]:
        return {"id": task_id, "type": "io.kestra.plugin.core.flow.Loop", "values": values,
                "concurrencyLimit": limit}

    def flow_trigger(self, trigger_id: str, upstream: List[Tuple[str, str]]) -> Dict[str, Any]:
        return {"id": trigger_id, "type": "io.kestra.plugin.core.trigger.Flow",
                "dependsOn": [{"namespace": ns, "flowId": fid, "states": ["SUCCESS"]} for ns, fid in upstream]}

    def input(self, param: Parameter) -> Dict[str, Any]:
        out: Dict[str, Any] = {"id": param.name, "type": self.input_type(param.type)}
        default = input_default(param)
        if default is not None:
            out["defaults"] = default
        out["required"] = self.required(param, default is not None)
        if param.help:
            out["description"] = param.help
        return out

    def input_type(self, kind: ParamType) -> str:
        return self.bool_type if kind is ParamType.BOOL else kind.value

    @staticmethod
    def required(param: Parameter, has_default: bool) -> bool:
        # 2.x: an input with defaults must be required (kestra.md §9.3).
        return has_default or param.required


class ProfileV1(Profile):
    version = 1
    isolated_iterations = False
    index_path = "{{ taskrun.value }}"

    def same_scope(self, task_id: str, depth: int) -> str:
        # Inside ForEach, outputs are keyed by each enclosing value (kestra.md §6.1).
        return "currentEachOutput(%s)" % self.ref(task_id) if depth else self.ref(task_id)

    def branches_of(self, head: str, depth: int, sure: bool) -> str:
        if sure:
            return self.same_scope(head, depth)
        return "%s ?? {}" % self.ref(head)  # every iteration's reports; keys are positions

    def foreach(self, task_id: str, values: str, limit: int) -> Dict[str, Any]:
        return {"id": task_id, "type": "io.kestra.plugin.core.flow.ForEach", "values": values,
                "concurrencyLimit": limit}

    def flow_trigger(self, trigger_id: str, upstream: List[Tuple[str, str]]) -> Dict[str, Any]:
        return {"id": trigger_id, "type": "io.kestra.plugin.core.trigger.Flow",
                "preconditions": {"id": "upstream", "flows": [
                    {"namespace": ns, "flowId": fid, "states": ["SUCCESS"]} for ns, fid in upstream]}}

    @staticmethod
    def required(param: Parameter, has_default: bool) -> bool:
        return param.required and not has_default


def input_default(param: Parameter) -> Any:
    """The default as Kestra input data, or None when it must be left to Metaflow: 1.x
    renders string defaults as Pebble and 2.x forbids Pebble there, so a default that
    looks like a template is never handed to Kestra (Metaflow applies it itself)."""
    if param.default is None:
        return None
    value = json.dumps(param.default, sort_keys=True) if param.type is ParamType.JSON else param.default
    text = value if isinstance(value, str) else json.dumps(value)
    if any(marker in text for marker in _PEBBLE_MARKERS):
        return None
    return value


def for_version(version: int) -> Profile:
    if int(version) == 1:
        return ProfileV1()
    if int(version) == 2:
        return Profile()
    raise ValueError("unsupported Kestra major version %r (1 and 2 are supported)" % version)
