"""Flowable tasks: Sequential, Parallel, ForEach (1.x), Loop (2.x), Switch, If, LoopUntil (loop_until.py)
(kestra.md §3.3, §6). A mixin of the Runner so each flowable is a short method."""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Dict, List, Optional

from . import model as m
from .pebble import PebbleError, is_truthy, render_data, to_text
from .records import TaskRun, final_state
from .loop_until import LoopUntilMixin
from .scope import Interrupt, Scope


class FlowablesMixin(LoopUntilMixin):
    """Flowable behaviour; relies on the Runner's run_block/run_task/run_concurrently/context."""

    def run_flowable(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        ttype = task["type"]
        inner = scope.child(taskrun, retry=task.get("retry") or scope.retry)
        try:
            if ttype == m.SEQUENTIAL:
                state = self.run_block(task["tasks"], inner)
            elif ttype == m.PARALLEL:
                state = self._parallel(task, taskrun, inner)
            elif ttype == m.FOREACH:
                state = self._foreach(task, taskrun, inner)
            elif ttype == m.LOOP:
                # 2.x: the Loop's errors/finally run inside each iteration sub-execution (handleNext of a
                # LOOP execution resolves loop.getErrors()/getFinally(), executor/.../ExecutorService.java@v2.0.0).
                return self._loop(task, taskrun, inner)
            elif ttype == m.LOOP_UNTIL:
                # resolves its own errors/finally (core/io/kestra/plugin/core/flow/LoopUntil.java, loop_until.py)
                return self._loop_until(task, taskrun, inner)
            elif ttype == m.SWITCH:
                state = self._switch(task, taskrun, inner)
                if state is None:
                    # No case matched and no defaults: findTaskDependingFlowState returns null, so
                    # resolveState logs "No task found" and FAILS the task run (allowFailure → WARNING,
                    # + allowWarning → SUCCESS); errors/finally are not started
                    # (core/io/kestra/core/runners/FlowableUtils.java@v1.3.34/@v2.0.0 `resolveState`).
                    self.log(taskrun, 0, "WARN", "No task found on flow '%s.%s', task '%s', execution '%s'"
                             % (self.exe.namespace, self.exe.flow_id, task["id"], scope.exe.id))
                    return "FAILED"
            else:
                state = self._if(task, taskrun, inner)
        except (PebbleError, ValueError) as exc:
            # An exception while resolving a flowable fails it ("Unable to resolve state from the
            # Flowable task", executor/io/kestra/executor/ExecutorService.java@v1.3.34).
            self.log(taskrun, 0, "ERROR", str(exc))
            state = "FAILED"
        return self._errors_and_finally(task, inner, state)

    def _errors_and_finally(self, task: Dict[str, Any], scope: Scope, state: str) -> str:
        if state == "FAILED" and task.get("errors") and not self.exe.kill_event.is_set():
            self.run_block(task["errors"], scope)  # errors do not recover the state (kestra.md §8.2)
        if task.get("finally"):
            state = final_state([state, self.run_block(task["finally"], scope, ignore_kill=True)])
        return state

    def _parallel(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        """All children start together, `concurrent` 0 = unlimited; after a failure no new child starts.
        1.x: the Parallel is FAILED as soon as a child failed with no retry left, running siblings
        are not waited for (FlowableUtils.resolveState "first call" branch: hasFailedNoRetry ->
        guessFinalState, core/io/kestra/core/runners/FlowableUtils.java@v1.3.31/@v1.3.34), so the
        execution can end while they run; they finish on their own (Parallel.java@v1.3.34 has no
        onChildFailure; seen on the real 1.3.31 engine). 2.x: `onChildFailure` FAIL (default) / CANCEL interrupts the still-running
        descendants, which end FAILED / CANCELLED; any other value means CONTINUE
        (core/io/kestra/plugin/core/flow/Parallel.java@v2.0.0, OnChildFailureInterface.java@v2.0.0
        `fromString` falls back to CONTINUE)."""
        on_fail = None
        inner = scope
        if self.version >= 2:
            mode = str(render_data(self.renderer, task.get("onChildFailure", "FAIL"),
                                   self.context(task, scope, taskrun)) or "").upper()
            if mode in ("FAIL", "CANCEL"):
                intr = Interrupt()
                inner = scope.child(scope.parent, retry=scope.retry, interrupts=scope.interrupts + (intr,))
                on_fail = lambda: intr.fire("FAILED" if mode == "FAIL" else "CANCELLED")  # noqa: E731
        jobs = [lambda t=t: self.run_task(t, inner) for t in task["tasks"]]
        state = self.run_concurrently(jobs, int(task.get("concurrent", 0)), on_fail=on_fail,
                                      detach=self.version < 2)
        return "FAILED" if state == "CANCELLED" else state

    def _foreach(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        """1.x ForEach: the DIRECT children get `taskrun.value`/`iteration` (FlowableUtils.resolveEachTasks
        @v1.3.34); deeper tasks do not (resolveTasks), they read `parent(s)`."""
        values = foreach_values(task["values"], lambda v: render_data(self.renderer, v,
                                                                      self.context(task, scope, taskrun)))
        # concurrencyLimit default 1, 0 = all groups at once (core/io/kestra/plugin/core/flow/ForEach.java@v1.3.34).
        limit = int(task.get("concurrencyLimit", 1))
        jobs = [lambda v=v, i=i: self.run_block(task["tasks"], scope.child(taskrun, value=v, iteration=i,
                                                                              retry=scope.retry))
                for i, v in enumerate(values)]
        return self.run_concurrently(jobs, limit)

    # ---- 2.x Loop: iterations are sub-executions -------------------------------------------
    def _loop(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        """core/io/kestra/plugin/core/flow/Loop.java@v2.0.0 + executor/.../ExecutorService.java@v2.0.0
        (`case Loop`) + executor/.../handler/LoopExecutionEventMessageHandler.java@v2.0.0: each iteration
        runs in its own execution (kind LOOP); `concurrencyLimit` default 1 (0 = all); with
        `transmitFailed` (default true) the first iteration ending FAILED/KILLED/CANCELLED terminates the
        Loop at once (FAILED only when that iteration FAILED); otherwise the Loop ends SUCCESS once all
        iterations ended, whatever their states (terminateLoop(SUCCESS))."""
        parent_exe = scope.exe
        items = loop_items(render_data(self.renderer, task["values"], self.context(task, scope, taskrun)),
                           from_text=isinstance(task["values"], str))
        transmit = bool(task.get("transmitFailed", True))
        limit = int(task.get("concurrencyLimit", 1))
        with parent_exe.lock:
            subs = {s.loop_run["index"]: s for s in parent_exe.iterations
                    if s.loop_run["taskRunId"] == taskrun.id}
            prior = dict(taskrun.outputs or {})
        outputs_list: List[Dict[str, Any]] = list(prior.get("outputs") or [])
        terminated: Dict[str, int] = dict(prior.get("terminatedIterations") or {})
        results: Dict[int, str] = {}
        lock = threading.Lock()
        ended = threading.Event()
        final: List[str] = []

        def iteration(index: int, item: Dict[str, Any]) -> Optional[str]:
            sub = subs.get(index)
            if sub is not None and sub.state.current not in ("FAILED", "KILLED", "CANCELLED"):
                return sub.state.current  # a finished iteration is not run again on restart
            if sub is None:
                sub = parent_exe.loop_execution(taskrun, index, item.get("key"), item["value"])
                self.register_execution(sub)
                with parent_exe.lock:
                    parent_exe.iterations.append(sub)
            else:
                # the Loop restarts its failing sub-execution (ExecutorService.java@v2.0.0 `case Loop`,
                # RESTARTED branch → executionService.restart(subExecution))
                sub.mark_for_restart(m.FLOWABLE_TYPES, errors_finally_ids(task), m.RESTART_AS_RUNNABLE)
            if sub is not None and terminated.get(sub.state.current):
                # restart of a failed iteration: its terminal state is un-counted
                # (ExecutorService.java@v2.0.0 `revertLoopIterationTermination`)
                terminated[sub.state.current] -= 1
                if not terminated[sub.state.current]:
                    del terminated[sub.state.current]
            state = self._run_iteration(task, taskrun, sub, scope)
            declared = {}
            if task.get("outputs") and state in ("SUCCESS", "WARNING"):
                try:
                    ctx = self.context(None, Scope(sub, None), None)
                    declared = {o["id"]: render_data(self.renderer, o.get("value"), ctx) for o in task["outputs"]}
                except PebbleError as exc:
                    self.log(taskrun, 0, "ERROR", "Unable to compute the iteration outputs: %s" % exc)
            with lock:
                results[index] = state
                terminated[state] = terminated.get(state, 0) + 1
                if declared:
                    entry = {"item": {"value": item["value"], "iteration": index}, "outputs": declared}
                    if item.get("key") is not None:
                        entry["item"]["key"] = item["key"]
                    outputs_list.append(entry)
                self._store_outputs(taskrun, _loop_output(len(items), terminated, outputs_list))
                if transmit and state in ("FAILED", "KILLED", "CANCELLED") and not ended.is_set():
                    self.log(taskrun, 0, "ERROR", "Loop iteration %d ended in %s in sub-execution %s, check "
                             "that execution's logs for details" % (index, state, sub.id))
                    final.append("FAILED" if state == "FAILED" else "SUCCESS")
                    ended.set()
            return state

        self._store_outputs(taskrun, _loop_output(len(items), terminated, outputs_list))
        jobs = [lambda i=i, it=it: iteration(i, it) for i, it in enumerate(items)]
        self.run_concurrently(jobs, limit, fail_fast=False, stop=ended)
        if self.exe.kill_event.is_set():
            return "KILLED"
        return final[0] if final else "SUCCESS"

    def _run_iteration(self, task: Dict[str, Any], loop_taskrun: TaskRun, sub: Any, scope: Scope) -> str:
        """One iteration sub-execution: the Loop's tasks, then its errors/finally, with the Loop task run
        as parent; its final state comes from the Loop's tasks only (ExecutorService.java@v2.0.0 `onEnd`)."""
        with sub.lock:
            sub.state.set("RUNNING")
        inner = Scope(sub, loop_taskrun, retry=task.get("retry") or scope.retry, interrupts=scope.interrupts)
        state = self.run_block(task["tasks"], inner)
        if task.get("errors") or task.get("finally"):
            self._errors_and_finally(task, inner, state)
        if self.exe.kill_event.is_set():
            state = "KILLED"
        with sub.lock:
            sub.state.set(state)
        sub.done.set()
        return state

    def _switch(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> Optional[str]:
        value = self.render(task["value"], self.context(task, scope, taskrun))
        cases = task.get("cases") or {}
        # The case whose key equals the rendered value, else defaults (Switch.childTasks@v1.3.34/@v2.0.0);
        # the outputs {value, defaults} are set when the Switch starts, before its children run
        # (ExecutorService.java@v1.3.34 saveFlowableOutput), so children see them as `parent.outputs` in 1.x.
        matched = next((tasks for key, tasks in cases.items() if str(key) == value), None)
        self._store_outputs(taskrun, {"value": value, "defaults": matched is None})
        chosen = matched if matched is not None else task.get("defaults")
        if chosen is None:
            return None
        if not chosen:
            # An empty case list passes validation but resolveState never ends it (empty currentTasks):
            # the real task run stays RUNNING; the emulator fails it instead (docs/kestra-emulator.md).
            self.log(taskrun, 0, "ERROR", "Case '%s' has no task: Kestra never terminates this task run" % value)
            return "FAILED"
        return self.run_block(chosen, scope)

    def _if(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        cond = self.render(to_text(task["condition"]) if not isinstance(task["condition"], str)
                           else task["condition"], self.context(task, scope, taskrun))
        result = is_truthy(cond)
        self._store_outputs(taskrun, {"evaluationResult": result})
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


def errors_finally_ids(node: Dict[str, Any]) -> set:
    """Ids of the tasks of every errors/finally branch under ``node`` (a flow or a task)."""
    ids = set()

    def walk(container: Dict[str, Any], inside: bool) -> None:
        for key in ("tasks", "errors", "finally", "then", "else", "defaults", "afterExecution"):
            for child in container.get(key) or []:
                if isinstance(child, dict):
                    branch = inside or key in ("errors", "finally", "afterExecution")
                    if branch:
                        ids.add(child.get("id"))
                    walk(child, branch)
        for tasks in (container.get("cases") or {}).values():
            for child in tasks or []:
                if isinstance(child, dict):
                    if inside:
                        ids.add(child.get("id"))
                    walk(child, inside)

    walk(node, False)
    return ids


def _loop_output(count: int, terminated: Dict[str, int], outputs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Loop task outputs: iterationCount, runningIterations, terminatedIterations per state, and the
    declared outputs of iterations that produced some (LoopExecutionEventMessageHandler.java@v2.0.0
    `computeOutputs`/`buildIterationOutput`)."""
    out: Dict[str, Any] = {"iterationCount": count, "runningIterations": 0,
                           "terminatedIterations": dict(terminated)}
    if outputs:
        out["outputs"] = list(outputs)  # in completion order
    return out
