"""What differs between Kestra 1.x and 2.x flows, in one place.

Each profile answers the same questions (how to iterate, how a task reads its foreach
value, its run's execution id and the outputs of a task of the same iteration, how to
declare an input or an upstream-flow trigger), so the compiler never branches on the
version itself. Sources are cited as ``path@tag`` in Kestra's published source jars
(``io.kestra:core``).
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence, Tuple

from ..plan import Parameter, ParamType

_PEBBLE_MARKERS = ("{{", "{%", "{#")

# Kinds of the flowable tasks the compiler nests tasks in.
FOREACH = "foreach"  # 1.x ForEach / 2.x Loop
PARALLEL = "parallel"
SEQUENTIAL = "sequential"
SWITCH = "switch"
LOOP_UNTIL = "loopuntil"
# A Switch's task run carries outputs (value, defaults) from its creation on, so it takes
# a `parents` slot; VoidOutput flowables (Sequential, Parallel, ForEach) take none
# (ExecutorService.java@v1.3.34 saves `flowableTask.outputs(runContext)` when it creates
# the task run; Execution.parents lists entries with a value or outputs). A LoopUntil
# (iterationCount) takes one only sometimes: see _value_of.


class Profile:
    """Kestra 2.x: ``Loop`` iterations are sub-executions (``Execution.loopExecution``
    @v2.0.0), so inside one a task sees only its own iteration's task runs: outputs of
    a task of the same iteration are plain ``outputs['id']``, the value is ``item.value``."""

    version = 2
    isolated_iterations = True
    max_attempts_key = "maxAttempts"
    bool_type = "BOOL"

    @staticmethod
    def ref(task_id: str) -> str:
        # Subscript form: hyphenated ids and Pebble keywords stay lookups (kestra.md §2.4).
        return "outputs['%s']" % task_id

    def same_scope(self, task_id: str, around: Sequence[str]) -> str:
        """An output of a task that ran in the same foreach iteration (or at top level),
        read by a task nested in the flowables ``around`` it (outermost first)."""
        return self.ref(task_id)

    def reports_of(self, head: str, key: str, sure: bool, around: Sequence[str]) -> str:
        """A switch step's position-keyed report (``branches`` or ``loops``)."""
        return "%s.vars.%s%s" % (self.same_scope(head, around), key, "" if sure else " ?? {}")

    def index_path(self, around: Sequence[str]) -> str:
        # The current iteration's value, at any depth inside the iteration
        # (RunVariables.java@v2.0.0: `item` from the execution's LoopRun).
        return "item.value"

    def execution_id(self, depth: int, start_task: str) -> str:
        """The run's (root) execution id. Inside an iteration ``execution`` is the
        iteration's PARENT execution (``RunVariables``@v2.0.0: ``loopRun.parent()``):
        the root at depth 1, an iteration's own execution deeper. Deeper tasks read the
        id the first step's task reported with the run it started; iterations see their
        parents' outputs (``TaskOutputService.computeOutputs``@v2.0.0)."""
        if depth <= 1:
            return "{{ execution.id }}"
        return "{{ %s.vars.execution_id }}" % self.ref(start_task)

    def foreach(self, task_id: str, values: str, limit: int) -> Dict[str, Any]:
        return {"id": task_id, "type": "io.kestra.plugin.core.flow.Loop", "values": values,
                "concurrencyLimit": limit}

    def wrap_loop_until(self, around: Sequence[str]) -> bool:
        """Whether a LoopUntil here needs a Sequential around it (see ProfileV1)."""
        return False

    def parallel_options(self) -> Dict[str, Any]:
        # 2.x Parallel interrupts the other branches when one fails (default FAIL,
        # Parallel.java@v2.0.0); 1.x has no such property and does not interrupt them.
        # CONTINUE keeps that one behaviour, and every branch that can succeed for a resume.
        return {"onChildFailure": "CONTINUE"}

    def flow_trigger(self, trigger_id: str, upstream: List[Tuple[str, str]]) -> Dict[str, Any]:
        return {"id": trigger_id, "type": "io.kestra.plugin.core.trigger.Flow",
                "dependsOn": [{"namespace": ns, "flowId": fid, "states": ["SUCCESS"]} for ns, fid in upstream]}

    def input(self, param: Parameter) -> Dict[str, Any]:
        out: Dict[str, Any] = {"id": param.name, "type": self.input_type(param.type)}
        default = input_default(param)
        if default is not None:
            out["defaults"] = default
        # An input with a default must be required, "since the default is always applied"
        # (InputValidator, 1.1 and later; 2.0 likewise).
        out["required"] = default is not None or param.required
        description = " ".join(t for t in (param.help, "(JSON)" if param.type is ParamType.JSON else None) if t)
        if description:
            out["description"] = description
        return out

    def input_type(self, kind: ParamType) -> str:
        # A JSON parameter is a STRING input holding the JSON text: Kestra writes JSON maps
        # without their null entries (JacksonMapper NON_NULL), so a JSON input's nulls would
        # never reach the step; text arrives whole and Metaflow parses it.
        if kind is ParamType.JSON:
            return "STRING"
        return self.bool_type if kind is ParamType.BOOL else kind.value


class ProfileV1(Profile):
    """Kestra 1.x: ``ForEach`` runs its children in the same execution. Only a direct
    child's task run has the iteration ``value`` (``FlowableUtils.resolveEachTasks`` vs
    ``resolveTasks``@v1.3.34); a deeper task reads it from ``parents``, which lists its
    ancestors nearest first, skipping those with neither a value nor outputs
    (``Execution.parents``@v1.3.34). Outputs of a task in a ForEach are keyed by the
    values of its ancestors, outermost first, then its own (``Execution.outputs``)."""

    version = 1
    isolated_iterations = False

    def same_scope(self, task_id: str, around: Sequence[str]) -> str:
        # The same keys, read from this task's context: a sibling shares its ancestors.
        expr = self.ref(task_id)
        for i in _carriers(around):
            expr += "[%s]" % _value_of(around, i)
        if around and around[-1] == FOREACH:
            expr += "[taskrun.value]"
        return expr

    def reports_of(self, head: str, key: str, sure: bool, around: Sequence[str]) -> str:
        if sure and LOOP_UNTIL not in around:
            return "%s.vars.%s" % (self.same_scope(head, around), key)
        # Every iteration's reports (keys are positions, so merging them is safe): what a
        # join reads, and what a task inside a LoopUntil reads, whose `parents` slots move.
        return "%s ?? {}" % self.ref(head)

    def index_path(self, around: Sequence[str]) -> str:
        if around and around[-1] == FOREACH:
            return "taskrun.value"
        carriers = _carriers(around)
        if not carriers:
            raise ValueError("internal: no foreach value around %r" % (around,))
        return _value_of(around, carriers[-1])

    def execution_id(self, depth: int, start_task: str) -> str:
        return "{{ execution.id }}"  # ForEach iterations are not executions of their own

    def foreach(self, task_id: str, values: str, limit: int) -> Dict[str, Any]:
        return {"id": task_id, "type": "io.kestra.plugin.core.flow.ForEach", "values": values,
                "concurrencyLimit": limit}

    def parallel_options(self) -> Dict[str, Any]:
        return {}  # no onChildFailure in 1.x: the other branches run to their end

    def wrap_loop_until(self, around: Sequence[str]) -> bool:
        # A direct child of a ForEach gets the ForEach index as its `iteration`, which a
        # LoopUntil hands to its children as their first pass number
        # (FlowableUtils.resolveEachTasks, ResolvedTask.toNextTaskRunIncrementIteration
        # @v1.3.34): one Sequential in between starts the passes at 0.
        return bool(around) and around[-1] == FOREACH

    def flow_trigger(self, trigger_id: str, upstream: List[Tuple[str, str]]) -> Dict[str, Any]:
        return {"id": trigger_id, "type": "io.kestra.plugin.core.trigger.Flow",
                "preconditions": {"id": "upstream", "flows": [
                    {"namespace": ns, "flowId": fid, "states": ["SUCCESS"]} for ns, fid in upstream]}}


def _carriers(around: Sequence[str]) -> List[int]:
    """Indices (outermost first) of the ancestors whose task run has a ForEach value:
    the direct children of a ForEach."""
    return [i for i in range(1, len(around)) if around[i - 1] == FOREACH]


def _value_of(around: Sequence[str], index: int) -> str:
    """The value of ancestor ``index`` as the nested task reads it from ``parents``.

    Its slot is fixed except above a LoopUntil, which is listed only when its task run has
    outputs: from the second ForEach value on it has none at creation (``LoopUntil.outputs``
    finds the first value's map under its id, ExecutorService@v1.3.34). Every slot between
    a task and its nearest value holds no value, so the first defined of the candidate
    slots is the one (``??`` skips what is missing: NullCoalescingExpression@v1.3.34)."""
    def slot(loop_until_listed: bool) -> int:
        listed = [i for i in reversed(range(len(around)))
                  if (i > 0 and around[i - 1] == FOREACH) or around[i] == SWITCH
                  or (around[i] == LOOP_UNTIL and loop_until_listed)]
        return listed.index(index)

    low, high = slot(False), slot(True)
    if low != high and index != _carriers(around)[-1]:
        raise ValueError("internal: an outer ForEach value read from inside a LoopUntil")
    return " ?? ".join("parent.taskrun.value" if p == 0 else "parents[%d].taskrun.value" % p
                       for p in range(low, high + 1))


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
