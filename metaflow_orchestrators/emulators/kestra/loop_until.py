"""`io.kestra.plugin.core.flow.LoopUntil` (alias `WaitFor`), both versions.

Read from core/io/kestra/plugin/core/flow/LoopUntil.java, core/io/kestra/core/runners/FlowableUtils.java
`resolveWaitForNext`, core/io/kestra/core/services/ExecutionService.java `retryWaitFor`/`pauseFlowable`,
core/io/kestra/core/models/executions/TaskRun.java `incrementIteration`/`resetAttempts`,
core/io/kestra/core/models/tasks/ResolvedTask.java `toNextTaskRunIncrementIteration`, and the executors'
LoopUntil branch: executor/io/kestra/executor/ExecutorService.java `handleChildWorkerTaskResult` +
jdbc/io/kestra/jdbc/runner/JdbcExecutor.java `executionDelaySend` (CONTINUE_FLOWABLE) @v1.3.34;
executor/io/kestra/executor/ExecutorService.java `handleFlowableTasks` + DefaultExecutor.java @v2.0.0.

One *pass* runs the children in sequence. Kestra evaluates the loop once every direct child ended in
a terminated-no-fail state (`childTaskRunExecuted`: count == tasks.size(), disabled children included,
so a disabled child means one pass and no condition). `iterationCount` lives in the LoopUntil task
run's outputs: 1 at creation (`outputs(RunContext)` via saveFlowableOutput). At the end of a pass with
count c the executor computes `nextExecutionDate`: null when the maximums are reached (`c >
maxIterations`, or creation + maxDuration passed) or the rendered `condition` is truthy; else now +
interval. The two versions then differ:

- 1.3.34: `resolveState` evaluates with c; if it continues, the LoopUntil branch writes c+1 and
  evaluates again with c+1 (reachedMaximums reads the task run's outputs, the condition sees
  `outputs.<id>.iterationCount` = c+1): continue → PAUSED + delay; stop → next executor pass
  evaluates with c+1 again.
- 2.0.0: both evaluations use c (reachedMaximums reads `runContext.currentOutput()`, built before the
  new output is saved); continue → save c+1, PAUSED + delay.

The delay (CONTINUE_FLOWABLE) runs `retryWaitFor`: the LoopUntil task run's `iteration` goes
(null→0)+1, every descendant task run is removed from the execution, the execution is RUNNING again,
and the children are created anew with `iteration` = the LoopUntil task run's iteration (0 on the
first pass, from `toNextTaskRunIncrementIteration(execution, parentTaskRun.getIteration())`).
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, List, Optional

from .durations import parse_duration
from .pebble import PebbleError, is_truthy, to_text
from .records import TaskRun, now
from .scope import Scope

NO_FAIL = {"WARNING", "SUCCESS", "RETRIED", "SKIPPED", "RESUBMITTED"}  # State.Type.isTerminatedNoFail


class _Continue(Exception):
    pass


class LoopUntilMixin:
    """LoopUntil on the Runner (uses run_block, run_task, context, render, log, _store_outputs)."""

    def _loop_until(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        exe = scope.exe
        with exe.lock:
            if taskrun.outputs is None:
                self._store_outputs(taskrun, self._lu_initial_outputs(task, exe))
        first_pass = True
        while True:
            if not first_pass:
                self._lu_next_iteration(taskrun, exe)
            first_pass = False
            base = taskrun.iteration if taskrun.iteration is not None else 0
            state = self.run_block(task["tasks"], scope.child(taskrun, iteration=base))
            if self.exe.kill_event.is_set():
                return "KILLED"
            # errors/finally task runs are children too, created by resolveWaitForNext with the same iteration
            branch = scope.child(taskrun, iteration=base)
            if not self._lu_children_done(task, taskrun, exe):
                # A child failed (or one is disabled): FlowableUtils.resolveState, i.e. the errors then
                # finally branches like any sequential flowable; the condition is not evaluated.
                return self._errors_and_finally(task, branch, state)
            try:
                interval = self._lu_evaluate(task, taskrun, scope)
                if interval is None:
                    return self._lu_resolve(task, taskrun, scope, branch, state)
            except (PebbleError, ValueError, TypeError) as exc:
                # An exception in resolveState fails the flowable ("Unable to resolve state from the Flowable
                # task", ExecutorService.childWorkerTaskResult@v1.3.34/@v2.0.0); terminated at once, so its
                # errors branch never starts.
                self.log(taskrun, 0, "ERROR", "Unable to resolve state from the Flowable task: %s" % exc)
                self._lu_first_finally(task, branch)
                return "FAILED"
            # Continue: the first `finally` task was already created in this executor pass (resolveWaitForNext
            # returns the finally branch once the tasks ended), then the LoopUntil and the execution are
            # PAUSED until the delay (ExecutionService.pauseFlowable).
            self._lu_first_finally(task, branch)
            with exe.lock:
                taskrun.state.set("PAUSED")
                exe.state.set("PAUSED")
            if self.exe.kill_event.wait(interval):
                return "KILLED"

    # ---- steps ---------------------------------------------------------------------------------
    def _lu_initial_outputs(self, task: Dict[str, Any], exe: Any) -> Dict[str, Any]:
        """`outputs(RunContext)` at creation. 2.0: the task run's own (empty) output → 1. 1.3.34: the
        `outputs` variable's entry for this task id, if any, else 1 — under a 1.x ForEach the entry of an
        earlier value exists but is keyed by value, so `get("iterationCount")` is null and the new task run
        starts with no iterationCount (NON_NULL serialisation), counted as 0 later."""
        if self.version >= 2:
            return {"iterationCount": 1}
        from .executor import compute_outputs  # noqa: PLC0415 - executor imports this module
        prior = compute_outputs(exe, self.version).get(task["id"])
        if prior is None:
            return {"iterationCount": 1}
        value = prior.get("iterationCount") if isinstance(prior, dict) else None
        return {"iterationCount": value} if isinstance(value, int) and not isinstance(value, bool) else {}

    @staticmethod
    def _lu_children_done(task: Dict[str, Any], taskrun: TaskRun, exe: Any) -> bool:
        """`childTaskRunExecuted`: direct children in a terminated-no-fail state == tasks.size()."""
        with exe.lock:
            done = [t for t in exe.task_runs if t.parent_id == taskrun.id and t.state.current in NO_FAIL]
        return len(done) == len(task["tasks"])

    def _lu_evaluate(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> Optional[float]:
        """The executor passes after a pass ended: None when the loop stops, else the interval (seconds)."""
        while True:
            count = _count(taskrun.outputs)
            interval = self._lu_next_date(task, taskrun, scope, count)
            if interval is None:
                return None
            with scope.exe.lock:
                taskrun.outputs = {"iterationCount": count + 1}
            if self.version >= 2:
                return interval  # 2.0: same evaluation (currentOutput is the runContext's), c+1 saved
            # 1.3.34: evaluated again with the updated task run (c+1)
            interval = self._lu_next_date(task, taskrun, scope, count + 1)
            if interval is not None:
                return interval
            # stop: the next executor pass evaluates resolveState with c+1

    def _lu_next_date(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope, count: int) -> Optional[float]:
        """LoopUntil.nextExecutionDate: null once the maximums are reached or the condition is truthy."""
        if self._lu_reached(task, taskrun, scope, count, False):
            return None
        ctx = self.context(task, scope, taskrun)
        cond = task["condition"]
        rendered = self.render(cond if isinstance(cond, str) else to_text(cond), ctx)
        self._lu_validate(task)  # RunContextProperty.as validates the task after each render (2.0)
        if is_truthy(rendered):
            return None
        frequency = task.get("checkFrequency") or {}
        raw = frequency.get("interval", "PT1M")  # CheckFrequency.interval default: 1 minute
        interval = self._lu_property(task, "interval", raw, ctx, "duration")
        return interval

    def _lu_reached(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope, count: int, log: bool) -> bool:
        """LoopUntil.reachedMaximums: iterationCount > maxIterations, or last CREATED + maxDuration < now
        (retryWaitFor's resetAttempts keeps the histories, so that is the task run's creation)."""
        frequency = task.get("checkFrequency") or {}
        ctx = self.context(task, scope, taskrun)
        if frequency.get("maxIterations") is not None:
            limit = self._lu_property(task, "maxIterations", frequency["maxIterations"], ctx, "int")
            if count > limit:
                if log:
                    self.log(taskrun, 0, "WARN", "Max iterations reached")
                return True
        else:
            self._lu_validate(task)  # validate() runs even for an absent (null) property
        if frequency.get("maxDuration") is not None:
            limit = self._lu_property(task, "maxDuration", frequency["maxDuration"], ctx, "duration")
            created = taskrun.state.histories[0][1]
            if created + _dt.timedelta(seconds=limit) < now():
                if log:
                    self.log(taskrun, 0, "WARN", "Max duration reached")
                return True
        else:
            self._lu_validate(task)
        return False

    def _lu_resolve(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope, branch: Scope, state: str) -> str:
        """LoopUntil.resolveState once nextExecutionDate is null: FAILED when the maximums are reached and
        `failOnMaxReached` (default false) renders true — straight away, no errors branch; otherwise
        FlowableUtils.resolveState: the children's state, then the finally branch."""
        count = _count(taskrun.outputs)
        if self._lu_reached(task, taskrun, scope, count, True):
            ctx = self.context(task, scope, taskrun)
            if self._lu_property(task, "failOnMaxReached", task.get("failOnMaxReached", False), ctx, "bool"):
                self._lu_first_finally(task, branch)
                return "FAILED"
        if not task["tasks"]:
            # 1.x accepts `tasks: []`; FlowableUtils.resolveState then never resolves (empty current tasks
            # and nothing failed): the real task run stays RUNNING forever; fail it here instead.
            self.log(taskrun, 0, "ERROR", "LoopUntil has no task: Kestra never terminates this task run")
            return "FAILED"
        return self._errors_and_finally(task, branch, state)

    def _lu_first_finally(self, task: Dict[str, Any], scope: Scope) -> None:
        """The first enabled finally task, created in the executor pass that ended the tasks (its task run is
        removed with the other descendants when the next iteration starts)."""
        first = [t for t in task.get("finally") or [] if not t.get("disabled")][:1]
        if first:
            self.run_block(first, scope, ignore_kill=True)

    def _lu_next_iteration(self, taskrun: TaskRun, exe: Any) -> None:
        """ExecutionService.retryWaitFor: iteration + 1, every descendant task run removed, RUNNING again."""
        with exe.lock:
            by_id = {t.id: t for t in exe.task_runs}
            gone = set()
            for t in exe.task_runs:
                node = t
                while node.parent_id is not None:
                    if node.parent_id == taskrun.id:
                        gone.add(t.id)
                        break
                    node = by_id.get(node.parent_id)
                    if node is None:
                        break
            for t in [t for t in exe.task_runs if t.id in gone]:
                exe.task_runs.remove(t)
                if exe.by_key.get(t.key) is t:
                    del exe.by_key[t.key]
            taskrun.iteration = (taskrun.iteration or 0) + 1
            taskrun.state.set("RUNNING")
            exe.state.set("RUNNING")

    # ---- Property<T> rendering -----------------------------------------------------------------
    def _lu_property(self, task: Dict[str, Any], name: str, raw: Any, ctx: Dict[str, Any], kind: str) -> Any:
        """Render a Property then convert it (Property.as: Jackson conversion of the rendered text)."""
        text = raw if isinstance(raw, str) else to_text(raw)
        rendered = self.render(text, ctx)
        if kind == "int":
            try:
                value: Any = int(rendered.strip())
            except ValueError:
                raise ValueError("%s: cannot convert %r to Integer" % (name, rendered))
        elif kind == "duration":
            value = parse_duration(rendered)
        else:
            if rendered in ("true", "True", "TRUE"):
                value = True
            elif rendered in ("false", "False", "FALSE"):
                value = False
            else:
                raise ValueError("%s: cannot convert %r to Boolean" % (name, rendered))
        if kind != "bool":
            self._lu_rendered().setdefault(id(task), {})[name] = value
        self._lu_validate(task)
        return value

    def _lu_rendered(self) -> Dict[int, Dict[str, Any]]:
        if not hasattr(self, "_lu_values"):
            self._lu_values: Dict[int, Dict[str, Any]] = {}
        return self._lu_values

    def _lu_validate(self, task: Dict[str, Any]) -> None:
        """2.0: each `runContext.render(property).as(...)` caches the converted value in the Property and then
        validates the whole task (RunContextProperty.validate → DefaultRunContext.validate@v2.0.0); the
        PropertyValueExtractor hands the cached values to the constraints `@Positive maxIterations`,
        `@DurationMin(millis = 1) maxDuration/interval` (LoopUntil.CheckFrequency@v2.0.0) → a
        ConstraintViolationException. Nothing is checked at save time (values are null then). 1.3.34 has
        no such constraints (and no @Valid on checkFrequency)."""
        if self.version < 2:
            return
        values = self._lu_rendered().get(id(task), {})
        problems = []
        if "interval" in values and values["interval"] < 0.001:
            problems.append("checkFrequency.interval: must be a positive duration")
        if "maxDuration" in values and values["maxDuration"] < 0.001:
            problems.append("checkFrequency.maxDuration: must be a positive duration")
        if "maxIterations" in values and values["maxIterations"] <= 0:
            problems.append("checkFrequency.maxIterations: must be greater than 0")
        if problems:
            raise ValueError(", ".join(problems))


def _count(outputs: Optional[Dict[str, Any]]) -> int:
    """iterationCount of the task run's outputs, 0 when absent (reachedMaximums / outputs(TaskRun))."""
    value = (outputs or {}).get("iterationCount")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


__all__: List[str] = ["LoopUntilMixin"]
