"""Flowable tasks: Sequential, Parallel, ForEach (1.x), Loop (2.x), Switch, If
(kestra.md §3.3, §6). A mixin of the Runner so each flowable is a short method."""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Dict, List, Optional

from . import model as m
from .pebble import PebbleError, is_truthy, render_data, to_text
from .records import TaskRun, final_state
from .scope import Scope


class FlowablesMixin:
    """Flowable behaviour; relies on the Runner's run_block/run_task/run_concurrently/context."""

    def run_flowable(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        ttype = task["type"]
        inner = scope.child(taskrun, retry=task.get("retry") or scope.retry)
        try:
            if ttype == m.SEQUENTIAL:
                state = self.run_block(task["tasks"], inner)
            elif ttype == m.PARALLEL:
                # All children start together, `concurrent` 0 = unlimited (source Parallel.java).
                jobs = [lambda t=t: self.run_task(t, inner) or "SUCCESS" for t in task["tasks"]]
                state = self.run_concurrently(jobs, int(task.get("concurrent", 0)))
            elif ttype == m.FOREACH:
                state = self._foreach(task, taskrun, inner)
            elif ttype == m.LOOP:
                state = self._loop(task, taskrun, inner)
            elif ttype == m.SWITCH:
                state = self._switch(task, taskrun, inner)
            else:
                state = self._if(task, taskrun, inner)
        except (PebbleError, ValueError) as exc:
            self.log(taskrun, 0, "ERROR", str(exc))
            state = "FAILED"
        return self._errors_and_finally(task, inner, state)

    def _errors_and_finally(self, task: Dict[str, Any], scope: Scope, state: str) -> str:
        if state == "FAILED" and task.get("errors") and not self.exe.kill_event.is_set():
            self.run_block(task["errors"], scope)  # errors do not recover the state (kestra.md §8.2)
        if task.get("finally"):
            state = final_state([state, self.run_block(task["finally"], scope, ignore_kill=True)])
        return state

    def _foreach(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        values = foreach_values(task["values"], lambda v: render_data(self.renderer, v,
                                                                      self.context(task, scope, taskrun)))
        # concurrencyLimit default 1 for ForEach; 0 = all groups at once (kestra.md §6.1).
        limit = int(task.get("concurrencyLimit", 1))
        jobs = [lambda v=v, i=i: self.run_block(task["tasks"], scope.child(
                    scope.parent, values=scope.values + (v,), iteration=i)) for i, v in enumerate(values)]
        return self.run_concurrently(jobs, limit)

    def _loop(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        rendered = render_data(self.renderer, task["values"], self.context(task, scope, taskrun))
        items = loop_items(rendered, from_text=isinstance(task["values"], str))
        results: List[Optional[Dict[str, Any]]] = [None] * len(items)
        states: List[Optional[str]] = [None] * len(items)
        stop = threading.Event()
        jobs = [lambda i=i, it=it: self._iteration(task, scope, i, it, results, states, stop)
                for i, it in enumerate(items)]
        # Loop concurrencyLimit default 0 = unlimited (kestra.md §6.2, source 2.x Loop.java).
        state = self.run_concurrently(jobs, int(task.get("concurrencyLimit", 0)),
                                      fail_fast=bool(task.get("transmitFailed", True)), stop=stop)
        self._store_outputs(taskrun, scope, _loop_output(results, states))
        if not task.get("transmitFailed", True) and state == "FAILED":
            return "SUCCESS"  # transmitFailed false: failed iterations don't fail the Loop (Loop.java)
        return state

    def _iteration(self, task: Dict[str, Any], scope: Scope, index: int, item: Dict[str, Any],
                   results: List[Optional[Dict[str, Any]]], states: List[Optional[str]],
                   stop: threading.Event) -> str:
        """Each iteration is isolated: its own outputs, visible after the Loop only if declared."""
        child = self._iteration_scope(task, scope, index, item)
        state = self.run_block(task["tasks"], child)
        states[index] = state
        declared: Dict[str, Any] = {}
        if state in ("SUCCESS", "WARNING"):
            ctx = self.context(task, child, None)
            declared = {o["id"]: render_data(self.renderer, o.get("value"), ctx) for o in task.get("outputs") or []}
            # LoopOutput = {item: {value, iteration, key}, outputs} (Loop.java Output/LoopOutput).
            loop_item = {"value": item["value"], "iteration": index}
            if "key" in item:
                loop_item["key"] = item["key"]
            results[index] = {"item": loop_item, "outputs": declared}
        if task.get("breakWhen") is not None:
            self._break_when(task, child, state, declared, stop)
        return state

    def _iteration_scope(self, task: Dict[str, Any], scope: Scope, index: int, item: Dict[str, Any]) -> Scope:
        parents = []
        if scope.item is not None:
            parents = [{"value": scope.item["value"], "index": scope.item["index"]}] + scope.item.get("parents", [])
        frame = dict(item, index=index, parents=parents)
        if parents:
            frame["parent"] = parents[0]
        loop_path = scope.loop_path + (task["id"], index)
        with self.exe.lock:
            # Kept on the execution so a restart finds the outputs of iterations' successful tasks.
            iteration_outputs = self.exe.iteration_outputs.setdefault(loop_path, {})
        return scope.child(scope.parent, outputs=iteration_outputs, item=frame, loop_path=loop_path)

    def _break_when(self, task: Dict[str, Any], child: Scope, state: str, declared: Dict[str, Any],
                    stop: threading.Event) -> None:
        """`breakWhen` after each iteration with `item` and `iteration.{executionId,state,outputs}`;
        truthy → no new iteration starts (Loop.java). Iterations are not separate executions here,
        so `iteration.executionId` is the execution's own id."""
        ctx = dict(self.context(task, child, None),
                   iteration={"executionId": self.exe.id, "state": state, "outputs": declared})
        if is_truthy(self.render(task["breakWhen"], ctx)):
            stop.set()

    def _switch(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        value = self.render(task["value"], self.context(task, scope, taskrun))
        cases = task.get("cases") or {}
        # Only the case whose key equals the rendered value runs, else defaults (source Switch.java).
        matched = next((tasks for key, tasks in cases.items() if str(key) == value), None)
        self._store_outputs(taskrun, scope, {"value": value, "defaults": matched is None})
        return self.run_block(matched if matched is not None else task.get("defaults") or [], scope)

    def _if(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        cond = self.render(to_text(task["condition"]) if not isinstance(task["condition"], str)
                           else task["condition"], self.context(task, scope, taskrun))
        result = is_truthy(cond)
        self._store_outputs(taskrun, scope, {"evaluationResult": result})
        return self.run_block(task["then"] if result else task.get("else") or [], scope)


def foreach_values(raw: Any, render: Callable[[Any], Any]) -> List[str]:
    """ForEach values: a string is rendered then parsed as a JSON array; a list's elements must be
    String/Integer/Map; values are stringified and de-duplicated (kestra.md §6.1)."""
    if isinstance(raw, str):
        text = render(raw)
        try:
            parsed = json.loads(text)
        except ValueError:
            raise ValueError("Invalid values: %r is not a JSON array" % text)
        if not isinstance(parsed, list):
            raise ValueError("Invalid values: %r is not a JSON array" % text)
        items = parsed
    elif isinstance(raw, list):
        for element in raw:
            if element is None or isinstance(element, (bool, float)) or not isinstance(element, (str, int, dict)):
                raise ValueError("Unknown value element type: %r" % (element,))
        items = render(raw)
    else:
        raise ValueError("Invalid values type: %r" % (raw,))
    if any(element is None for element in items):
        # Null values are rejected (source 0.21 FlowableUtils.resolveEachTasks, nullCount check).
        raise ValueError("Found a null value inside the iteration values")
    return _distinct([_json_element(element) for element in items])


def loop_items(rendered: Any, from_text: bool) -> List[Dict[str, Any]]:
    """Loop values (source 2.x FlowableUtils.resolveValues): a string is rendered then parsed as a
    JSON array (strings kept, other elements as JSON) or object (item.key); a YAML list or map has
    string, number or map elements (booleans, nulls, lists are errors); list values are de-duplicated."""
    if from_text:
        try:
            rendered = json.loads(rendered)
        except ValueError:
            raise ValueError("Invalid values: %r is not JSON" % (rendered,))
        if isinstance(rendered, list):
            values = [_json_element(v) for v in rendered]
            return [{"value": v} for v in _distinct(values)]
    if isinstance(rendered, dict):
        return [{"key": str(k), "value": _element(v)} for k, v in rendered.items()]
    if isinstance(rendered, list) and not from_text:
        return [{"value": v} for v in _distinct([_element(v) for v in rendered])]
    raise ValueError("Unknown value type: %r" % (rendered,))


def _json_element(value: Any) -> str:
    if value is None:
        raise ValueError("Found a null value inside the iteration values")
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _element(value: Any) -> str:
    """valueAsString: String as-is (already rendered), Number via toString, Map as JSON."""
    if value is None:
        raise ValueError("Found a null value inside the iteration values")
    if isinstance(value, bool) or not isinstance(value, (str, int, float, dict)):
        raise ValueError("Unknown value element type: %r" % (value,))
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return value if isinstance(value, str) else str(value)


def _distinct(values: List[str]) -> List[str]:
    out: List[str] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _loop_output(results: List[Optional[Dict[str, Any]]], states: List[Optional[str]]) -> Dict[str, Any]:
    """Loop task outputs: iterationCount, runningIterations, terminatedIterations per state and the
    declared outputs of successful iterations in order (Loop.java `Output`)."""
    terminated: Dict[str, int] = {}
    for state in states:
        if state is not None:
            terminated[state] = terminated.get(state, 0) + 1
    return {"iterationCount": len(states), "runningIterations": 0, "terminatedIterations": terminated,
            "outputs": [r for r in results if r is not None]}
