"""Flowable tasks: Sequential, Parallel, ForEach (1.x), Loop (2.x), Switch, If
(kestra.md §3.3, §6). A mixin of the Runner so each flowable is a short method."""
from __future__ import annotations

import json
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
        items = loop_items(rendered)
        results: List[Optional[Dict[str, Any]]] = [None] * len(items)
        jobs = [lambda i=i, it=it: self._iteration(task, scope, i, it, results) for i, it in enumerate(items)]
        # Loop concurrencyLimit default 0 = unlimited (kestra.md §6.2, source 2.x Loop.java).
        state = self.run_concurrently(jobs, int(task.get("concurrencyLimit", 0)),
                                      fail_fast=bool(task.get("transmitFailed", True)))
        outputs = {"outputs": [r for r in results if r is not None], "iterationCount": len(items),
                   "terminatedIterations": sum(1 for r in results if r is not None)}
        self._store_outputs(taskrun, scope, outputs)
        if not task.get("transmitFailed", True) and state == "FAILED":
            return "SUCCESS"  # transmitFailed false: failed iterations don't fail the Loop (kestra.md §6.2)
        return state

    def _iteration(self, task: Dict[str, Any], scope: Scope, index: int, item: Dict[str, Any],
                   results: List[Optional[Dict[str, Any]]]) -> str:
        """Each iteration is isolated: its own outputs, visible after the Loop only if declared."""
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
        child = scope.child(scope.parent, outputs=iteration_outputs, item=frame,
                            loop_path=loop_path)
        state = self.run_block(task["tasks"], child)
        if state in ("SUCCESS", "WARNING") and task.get("outputs"):
            ctx = self.context(task, child, None)
            results[index] = {o["id"]: render_data(self.renderer, o.get("value"), ctx) for o in task["outputs"]}
        elif state in ("SUCCESS", "WARNING"):
            results[index] = {}
        return state

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
    out: List[str] = []
    for element in items:
        text = element if isinstance(element, str) else json.dumps(element, separators=(",", ":"))
        if text not in out:
            out.append(text)
    return out


def loop_items(rendered: Any) -> List[Dict[str, Any]]:
    """Loop values: list, map (item.key) or JSON-array string; values coalesced to strings (kestra.md §6.2)."""
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except ValueError:
            raise ValueError("Invalid values: %r is not a JSON array" % rendered)
    if isinstance(rendered, dict):
        return [{"key": str(k), "value": _loop_text(v)} for k, v in rendered.items()]
    if not isinstance(rendered, list):
        raise ValueError("Invalid values: %r" % (rendered,))
    return [{"value": _loop_text(v)} for v in rendered]


def _loop_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
