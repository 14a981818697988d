"""Runs one execution: the task tree, flowables, retries, timeouts, outputs, kill, restart.

Kestra's executor is event-driven; here each execution is walked recursively by one thread
(plus threads for concurrent children). The observable behaviour follows kestra.md §3.3, §6,
§7, §8, §11 and the engine sources cited next to each rule.
"""
from __future__ import annotations

import copy
import random
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable, Dict, List, Optional

from . import model as m
from .durations import parse_duration
from .flowables import FlowablesMixin
from .pebble import PebbleError, Renderer, is_truthy, render_data, to_text, without_null_entries
from .records import Execution, State, TaskRun, final_state, iso, now
from .defaults import merge
from .scope import Scope
from .scripts import build_spec, new_workdir, run_attempt

MAX_THREADS = 32
LogSink = Callable[[Execution, Optional[TaskRun], int, str, str], None]


class Runner(FlowablesMixin):
    """Executes one Execution to a terminal state (also used again for restart)."""

    def __init__(self, execution: Execution, version: int, workdir: str, log: LogSink,
                 register: Optional[Callable[[Execution], None]] = None, hidden_env: frozenset = frozenset()):
        self.exe = execution
        self.hidden_env = hidden_env  # the emulator's secrets: never in a task's environment
        self.register_execution = register or (lambda sub: None)
        self.version = version
        self.workdir = workdir
        self.log_sink = log
        self.renderer = Renderer(version)
        self.processes: List[Any] = []
        self.proc_lock = threading.Lock()
        self.root_lock = execution.lock  # one lock for the execution and its Loop iterations

    # ---- entry point -----------------------------------------------------------------
    def run(self) -> str:
        exe = self.exe
        with exe.lock:
            exe.state.set("RUNNING")
        root = Scope(exe, None, retry=exe.flow.get("retry"))
        state = self.run_block(exe.flow["tasks"], root)
        if state in ("FAILED", "KILLED") and exe.flow.get("errors") and not exe.kill_event.is_set():
            # Flow `errors` run on failure but do not recover the execution (kestra.md §8.2).
            self.run_block(exe.flow["errors"], root)
        if exe.flow.get("finally"):
            final_tasks_state = self.run_block(exe.flow["finally"], root, ignore_kill=True)
            state = final_state([state, final_tasks_state])
        if exe.kill_event.is_set():
            state = exe.kill_state
        self._flow_outputs(root)
        return state

    def _flow_outputs(self, scope: Scope) -> None:
        outs = self.exe.flow.get("outputs") or []
        if not outs:
            return
        ctx = self.context(None, scope, None)
        result: Dict[str, Any] = {}
        for out in outs:
            try:
                result[out["id"]] = render_data(self.renderer, out.get("value"), ctx)
            except PebbleError as exc:
                self.log(None, 0, "ERROR", "Unable to render flow output %s: %s" % (out.get("id"), exc))
        self.exe.flow_outputs = result

    # ---- blocks ----------------------------------------------------------------------
    def run_block(self, tasks: List[Dict[str, Any]], scope: Scope, ignore_kill: bool = False) -> str:
        """Children one after another; stop at the first failure
        (core/io/kestra/core/runners/FlowableUtils.java@v1.3.34 `resolveSequentialNexts`)."""
        states: List[Optional[str]] = []
        for task in tasks:
            if (self.exe.kill_event.is_set() and not ignore_kill) or scope.interrupted():
                break
            state = self.run_task(task, scope)
            states.append(state)
            if state in ("FAILED", "KILLED", "CANCELLED"):
                break
        return final_state(states)

    def run_concurrently(self, jobs: List[Callable[[], str]], limit: int, fail_fast: bool = True,
                         stop: Optional[threading.Event] = None,
                         on_fail: Optional[Callable[[], None]] = None, detach: bool = False) -> str:
        """Run jobs with at most ``limit`` at once (0 = all); once one failed no new job starts
        (findTaskDependingFlowState returns no task after a failure with no retry left,
        core/io/kestra/core/models/executions/Execution.java@v1.3.34) unless ``fail_fast`` is off.
        ``detach``: the group's state is FAILED as soon as a job failed, without waiting for the jobs
        still running, which go on and update their task runs later."""
        if not jobs:
            return "SUCCESS"
        # "Unlimited" is capped at MAX_THREADS per group so a huge fan-out cannot exhaust the host
        # (a real worker also has a bounded thread pool, `kestra.worker` threads).
        workers = min(len(jobs) if limit <= 0 else min(limit, len(jobs)), MAX_THREADS)
        failed = threading.Event()

        def guarded(job: Callable[[], str]) -> Optional[str]:
            if failed.is_set() or self.exe.kill_event.is_set() or (stop is not None and stop.is_set()):
                return None  # never started: no task run, no effect on the group state
            state = job()
            if state in ("FAILED", "KILLED") and fail_fast:
                failed.set()
                if on_fail is not None:
                    on_fail()
            return state

        if detach:
            pool = ThreadPoolExecutor(max_workers=workers)
            futures = [pool.submit(guarded, job) for job in jobs]
            pool.shutdown(wait=False)
            done: List[Optional[str]] = []
            for future in as_completed(futures):
                done.append(future.result())
                if done[-1] in ("FAILED", "KILLED") and fail_fast:
                    return final_state(done)
            return final_state(done)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            states = list(pool.map(guarded, jobs))
        return final_state(states)

    # ---- one task --------------------------------------------------------------------
    def run_task(self, task: Dict[str, Any], scope: Scope) -> Optional[str]:
        if task.get("disabled"):
            return None  # disabled tasks get no task run (Execution.removeDisabled@v1.3.34)
        exe = scope.exe
        key = (task["id"], scope.parent.id if scope.parent else None, scope.value)
        with exe.lock:
            taskrun = exe.by_key.get(key)
            if taskrun is not None and taskrun.state.current not in ("RESTARTED", "RUNNING"):
                # Restart re-runs only FAILED/PAUSED task runs and their ancestors; every other task run
                # keeps its state and outputs (core/io/kestra/core/services/ExecutionService.java@v1.3.34 `restart`).
                return taskrun.state.current
            if taskrun is None:
                if scope.interrupted():
                    return None
                taskrun = self._new_taskrun(task, scope, key)
        if self.exe.kill_event.is_set():
            taskrun.state.set(self.exe.kill_state)
            return "KILLED"
        gate = self._run_if(task, taskrun, scope)
        if gate != "RUN":
            taskrun.state.set(gate)
            return self._allow(task, gate)
        taskrun.state.set("RUNNING")
        if task["type"] in m.FLOWABLE_TYPES:
            state = self.run_flowable(task, taskrun, scope)
        else:
            state = self.run_runnable(task, taskrun, scope)
        interrupted = scope.interrupted()
        if interrupted and state not in ("SUCCESS", "WARNING", "SKIPPED"):
            state = interrupted
        state = self._allow(task, state)
        with exe.lock:
            taskrun.state.set(state)
        return state

    def _new_taskrun(self, task: Dict[str, Any], scope: Scope, key: tuple) -> TaskRun:
        # TaskRun.of(execution, resolvedTask): value/iteration only from the ResolvedTask, i.e. only for
        # the direct children of a 1.x ForEach (core/io/kestra/core/models/executions/TaskRun.java@v1.3.34).
        taskrun = TaskRun(scope.exe, task, scope.parent.id if scope.parent else None, scope.value,
                          scope.iteration, key)
        scope.exe.task_runs.append(taskrun)
        scope.exe.by_key[key] = taskrun
        return taskrun

    def _run_if(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        """`runIf` (2.x alias `when`): rendered, falsy → SKIPPED (kestra.md §3.1, TruthUtils);
        a condition that cannot be rendered fails the task (strict Pebble, kestra.md §5.1)."""
        cond = task.get("runIf", task.get("when"))
        if cond is None:
            return "RUN"
        try:
            return "RUN" if is_truthy(self.render(cond, self.context(task, scope, taskrun))) else "SKIPPED"
        except PebbleError as exc:
            self.log(taskrun, 0, "ERROR", str(exc))
            return "FAILED"

    @staticmethod
    def _allow(task: Dict[str, Any], state: str) -> str:
        # Worker.java: allowFailure turns a final FAILED into WARNING; allowWarning WARNING into SUCCESS.
        if state == "FAILED" and task.get("allowFailure"):
            state = "WARNING"
        if state == "WARNING" and task.get("allowWarning"):
            state = "SUCCESS"
        return state

    # ---- runnable tasks with retry ---------------------------------------------------
    def run_runnable(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope) -> str:
        # Retry precedence: task, then parent flowable, then flow (kestra.md §7).
        retry = task.get("retry") or scope.retry
        timeout = parse_duration(task["timeout"]) if task.get("timeout") else None
        while True:
            state, outputs = self._attempt(task, taskrun, scope, timeout)
            if state == "SUCCESS" or self.exe.kill_event.is_set() or scope.interrupted():
                break
            delay = self._retry_delay(retry, taskrun)
            if delay is None:
                break
            taskrun.state.set("RETRYING")
            self.log(taskrun, len(taskrun.attempts), "WARN", "Task failed, retrying in %ss" % delay)
            if self.exe.kill_event.wait(delay):
                break
            taskrun.state.set("RUNNING")
        if self.exe.kill_event.is_set():
            state = "KILLED"
        if state == "SUCCESS" and retry and retry.get("warningOnRetry") and len(taskrun.attempts) > 1:
            state = "WARNING"  # Worker.java: warningOnRetry after more than one attempt
        if state in ("SUCCESS", "WARNING"):
            self._store_outputs(taskrun, outputs)
        return state

    def _attempt(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope,
                 timeout: Optional[float]) -> tuple:
        # attemptsCount = attempts recorded before this one: the run context is built before
        # the new attempt is appended (core/io/kestra/core/runners/RunVariables.java@v1.3.34 `of(TaskRun)`),
        # so 0 on the first try; a restart keeps earlier attempts (TaskRun.forChildExecution@v1.3.34).
        ctx = self.context(task, scope, taskrun)
        attempt = _new_attempt(taskrun)
        number = len(taskrun.attempts)
        try:
            state, outputs = self._execute(task, taskrun, ctx, number, timeout, scope)
        except PebbleError as exc:
            # A render error fails the attempt (kestra.md §5.1 strict lookups).
            self.log(taskrun, number, "ERROR", str(exc))
            state, outputs = "FAILED", None
        attempt.set(state)
        return state, outputs

    def _execute(self, task: Dict[str, Any], taskrun: TaskRun, ctx: Dict[str, Any], number: int,
                 timeout: Optional[float], scope: Scope) -> tuple:
        ttype = task["type"]
        log = lambda level, msg: self.log(taskrun, number, level, msg)  # noqa: E731
        if ttype in m.SCRIPT_TYPES:
            problem = runner_problem(task, self.version)
            if problem:
                log("ERROR", problem)
                return "FAILED", None
            if self.version < 2 and task.get("taskRunner"):
                # AbstractExecScript.commands logs the effective runner first (not for the legacy `runner`)
                # (script/io/kestra/plugin/scripts/exec/AbstractExecScript.java@v1.3.31; gone in @v2.0.0).
                log("DEBUG", "Using task runner '%s'" % m.PROCESS_RUNNER)
            workdir = new_workdir(self.workdir)
            try:
                spec = build_spec(task, lambda v, extra=None: render_data(
                    self.renderer, v, dict(ctx, **extra) if extra else ctx), workdir, self.version)
                spec.hidden = self.hidden_env
                return run_attempt(spec, log, timeout, lambda proc: self._register(proc, scope))
            finally:
                # The working directory is deleted after the attempt (Worker: runContext.cleanup()).
                shutil.rmtree(workdir, ignore_errors=True)
        if ttype == m.LOG:
            for line in _as_list(render_data(self.renderer, task["message"], ctx)):
                log(task.get("level", "INFO"), to_text(line))
            return "SUCCESS", None  # Log has no outputs
        if ttype == m.OUTPUT_VALUES:
            return "SUCCESS", {"values": render_data(self.renderer, task.get("values") or {}, ctx)}
        if ttype == m.RETURN:
            return "SUCCESS", {"value": self.render(task.get("format", ""), ctx)}
        if ttype == m.FAIL:
            cond = task.get("condition")
            if cond is not None and not is_truthy(self.render(cond, ctx)):
                return "SUCCESS", None
            log("ERROR", self.render(task.get("errorMessage", "Task failure"), ctx))
            return "FAILED", None
        raise PebbleError("Unsupported task type %s" % ttype)

    def _register(self, proc: Any, scope: Scope) -> None:
        with self.proc_lock:
            if proc is None:
                self.processes = [p for p in self.processes if p.proc is None or p.proc.poll() is None]
                return
            self.processes.append(proc)
            if self.exe.kill_event.is_set():
                proc.killed = True
                proc.kill()
        for intr in scope.interrupts:
            with intr.lock:
                intr.processes.append(proc)
                if intr.fired.is_set():
                    proc.interrupted = intr.state
                    proc.kill()

    def kill_processes(self) -> None:
        with self.proc_lock:
            for proc in self.processes:
                proc.killed = True
                proc.kill()

    def _retry_delay(self, retry: Any, taskrun: TaskRun) -> Optional[float]:
        """Delay before the next attempt, or None: no retry once attempts >= maxAttempts, or when the
        next date passes the first attempt's start + maxDuration (TaskRun.nextRetryDate@v1.3.34)."""
        if not retry:
            return None
        attempts = len(taskrun.attempts)
        limit = retry.get("maxAttempts", retry.get("maxAttempt"))
        if limit is not None and attempts >= int(limit):
            return None
        if retry["type"] == "constant":
            delay = parse_duration(retry["interval"])
        elif retry["type"] == "exponential":
            factor = float(retry.get("delayFactor", 2))
            delay = min(parse_duration(retry["interval"]) * factor ** (attempts - 1),
                        parse_duration(retry["maxInterval"]))
        else:
            delay = random.uniform(parse_duration(retry["minInterval"]), parse_duration(retry["maxInterval"]))
        first = taskrun.attempts[0].histories[0][1]
        if retry.get("maxDuration") and (now() - first).total_seconds() + delay > parse_duration(retry["maxDuration"]):
            return None
        return delay

    def _store_outputs(self, taskrun: TaskRun, outputs: Optional[Dict[str, Any]]) -> None:
        if outputs is None:
            return
        with taskrun.execution.lock:
            taskrun.outputs = outputs

    # ---- rendering context -----------------------------------------------------------
    def render(self, template: Any, ctx: Dict[str, Any]) -> str:
        return self.renderer.render(template if isinstance(template, str) else to_text(template), ctx)

    def context(self, task: Optional[Dict[str, Any]], scope: Scope, taskrun: Optional[TaskRun]) -> Dict[str, Any]:
        """The variables of core/io/kestra/core/runners/RunVariables.java (@v1.3.34, @v2.0.0 `DefaultBuilder.build`)."""
        exe = scope.exe
        v2 = self.version >= 2
        # 2.x: inside a Loop iteration, `execution`, inputs and trigger come from the IMMEDIATE parent
        # execution `loopRun.parent()` (RunVariables.java@v2.0.0 "realExecution").
        real = exe.loop_run["parent"] if (v2 and exe.loop_run is not None) else exe
        with self.root_lock:
            ctx: Dict[str, Any] = {"envs": dict(exe.envs), "globals": {}}
            ctx["flow"] = {"id": exe.flow_id, "namespace": exe.namespace, "revision": exe.revision,
                           "tenantId": "main"}
            if task is not None:
                ctx["task"] = {"id": task["id"], "type": task["type"]}
            if taskrun is not None:
                ctx["taskrun"] = _taskrun_vars(taskrun)
                parents = _parents_v2(exe, taskrun) if v2 else _parents_v1(exe, taskrun)
                ctx["parents"] = parents
                if parents:
                    ctx["parent"] = parents[0]
            ctx["execution"] = _execution_vars(real, v2)
            ctx["outputs"] = compute_outputs(exe, self.version)
            runs = list(exe.task_runs) + (list(real.task_runs) if real is not exe else [])
            ctx["tasks"] = _tasks_map(runs)
            if real.inputs:
                ctx["inputs"] = copy.deepcopy(real.inputs)
            if real.trigger is not None:
                trig = dict(real.trigger.get("variables") or {})
                if v2:
                    trig["_context"] = {"id": real.trigger["id"], "type": real.trigger["type"]}
                ctx["trigger"] = trig
            ctx["labels"] = _nested_labels(exe.labels)
            if exe.flow.get("variables") is not None:
                # Raw flow variables: never rendered (RunVariables `vars`; recursive rendering is off by
                # default, core/io/kestra/core/runners/configuration/VariableConfiguration.java@v1.3.34/@v2.0.0).
                # Stored as JSON by JacksonMapper (NON_NULL, map content included:
                # serializers/JacksonMapper.java@v1.3.34/@v2.0.0): null map entries are gone.
                ctx["vars"] = without_null_entries(exe.flow["variables"])
            if v2 and exe.loop_run is not None:
                ctx["item"] = _item_vars(exe.loop_run)
        return ctx

    def log(self, taskrun: Optional[TaskRun], attempt: int, level: str, message: str) -> None:
        target = taskrun.execution if taskrun is not None else self.exe
        self.log_sink(target, taskrun, attempt, level, message)


def compute_outputs(exe: Execution, version: int, only: Optional[set] = None) -> Dict[str, Any]:
    """`outputs` variable: per task id, each task run's outputs keyed by the values of its ancestors
    (and its own value); task runs with an iteration are deep-merged, others put shallowly
    (core/io/kestra/core/models/executions/Execution.java@v1.3.34 `outputs()`;
    core/io/kestra/core/services/TaskOutputService.java@v2.0.0 `computeOutputs`, which then puts the
    loop parent execution's outputs over the iteration's)."""
    runs = [t for t in exe.task_runs if only is None or t.id in only]
    by_id = {t.id: t for t in runs}
    groups: Dict[str, List[TaskRun]] = {}
    for t in runs:
        if version < 2 and t.outputs is None:
            continue  # 1.3 filters task runs without outputs before grouping
        groups.setdefault(t.task_id, []).append(t)
    result: Dict[str, Any] = {}
    for task_id, trs in groups.items():
        acc: Dict[str, Any] = {}
        for t in trs:
            if t.outputs is None or (version < 2 and not t.outputs):
                continue
            shaped = _shape_outputs(t, copy.deepcopy(t.outputs), by_id)
            acc = merge(acc, shaped) if t.iteration is not None else dict(acc, **shaped)
        result[task_id] = acc
    if version >= 2 and exe.loop_run is not None:
        run = exe.loop_run
        result.update(compute_outputs(run["parent"], version, run["parentTaskRunIds"]))
    return result


def _ancestors(exe: Execution, taskrun: TaskRun, by_id: Optional[Dict[str, TaskRun]] = None) -> List[TaskRun]:
    """Parents of a task run inside its own execution, closest first (Execution.findParents, reversed)."""
    by_id = by_id if by_id is not None else {t.id: t for t in exe.task_runs}
    out: List[TaskRun] = []
    current = taskrun
    while current.parent_id is not None and current.parent_id in by_id:
        current = by_id[current.parent_id]
        out.append(current)
    return out


def _shape_outputs(taskrun: TaskRun, outputs: Dict[str, Any], by_id: Dict[str, TaskRun]) -> Dict[str, Any]:
    keys = [t.value for t in reversed(_ancestors(taskrun.execution, taskrun, by_id)) if t.value is not None]
    if taskrun.value is not None:
        keys.append(taskrun.value)
    if not keys:
        return outputs
    result: Dict[str, Any] = {}
    current = result
    for key in keys[:-1]:
        current[key] = {}
        current = current[key]
    if taskrun.value is not None:
        current[keys[-1]] = outputs
    else:
        current[keys[-1]] = {}
        current[keys[-1]].update(outputs)
    return result


def _parents_v1(exe: Execution, taskrun: TaskRun) -> List[Dict[str, Any]]:
    """`parents`, closest first: one entry per ancestor task run with a value (`taskrun.value`) or
    non-empty outputs (`outputs`); ancestors with neither are skipped
    (core/io/kestra/core/models/executions/Execution.java@v1.3.34 `parents`)."""
    result = []
    for parent in _ancestors(exe, taskrun):
        entry: Dict[str, Any] = {}
        if parent.value is not None:
            entry["taskrun"] = {"value": parent.value}
        if parent.outputs:
            entry["outputs"] = copy.deepcopy(parent.outputs)
        if entry:
            result.append(entry)
    return result


def _parents_v2(exe: Execution, taskrun: TaskRun) -> List[Dict[str, Any]]:
    """`parents`, closest first: every ancestor task run of the same (sub-)execution as
    `{task: {id}, taskrun: {value}}`, `taskrun` only when it has a value; no outputs
    (core/io/kestra/core/runners/RunVariables.java@v2.0.0 `parents`)."""
    result = []
    for parent in _ancestors(exe, taskrun):
        entry: Dict[str, Any] = {"task": {"id": parent.task_id}}
        if parent.value is not None:
            entry["taskrun"] = {"value": parent.value}
        result.append(entry)
    return result


def _execution_vars(exe: Execution, v2: bool) -> Dict[str, Any]:
    data: Dict[str, Any] = {"id": exe.id, "state": exe.state.current, "startDate": iso(exe.state.histories[0][1])}
    if v2 and exe.state.is_terminated():
        data["endDate"] = iso(exe.state.histories[-1][1])
    if exe.original_id is not None:
        data["originalId"] = exe.original_id
    if exe.flow_outputs:
        data["outputs"] = exe.flow_outputs
    return data


def _item_vars(run: Dict[str, Any]) -> Dict[str, Any]:
    """`item` of a Loop iteration (RunVariables.java@v2.0.0 `of(LoopRun)`): index, key (map values
    only), value; `parent` (closest enclosing iteration) and `parents` (outermost first) when nested."""
    item: Dict[str, Any] = {"index": run["index"], "value": run["value"]}
    if run["key"] is not None:
        item["key"] = run["key"]
    if run["parents"] is not None:
        parents = [{k: v for k, v in p.items() if v is not None or k != "key"} for p in run["parents"]]
        item["parent"] = parents[-1]
        item["parents"] = parents
    return item


def _tasks_map(runs: List[TaskRun]) -> Dict[str, Any]:
    """`tasks.<id>.state` or `tasks.<id>.<value>.state` (RunVariables.java@v1.3.34 / `computeTasksMap`@v2.0.0)."""
    out: Dict[str, Any] = {}
    for t in runs:
        if t.value is None:
            out[t.task_id] = {"state": t.state.current}
        else:
            entry = out.get(t.task_id)
            if not isinstance(entry, dict) or "state" in entry:
                entry = out[t.task_id] = {}
            entry[t.value] = {"state": t.state.current}
    return out


def _nested_labels(labels: List[Dict[str, str]]) -> Dict[str, Any]:
    """Label.toNestedMap@v1.3.34: dotted keys become nested maps."""
    out: Dict[str, Any] = {}
    for lab in labels:
        parts = lab["key"].split(".")
        node = out
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = node[part] = {}
            node = nxt
        node[parts[-1]] = lab["value"]
    return out


def runner_problem(task: Dict[str, Any], version: int) -> Optional[str]:
    """Script tasks default to the Docker task runner (script/io/kestra/plugin/scripts/exec/
    AbstractExecScript.java@v1.3.34 `commands`); only Process runs here. 1.x still honours the
    deprecated `runner: PROCESS`."""
    if task.get("taskRunner"):
        return None
    if version < 2 and str(task.get("runner", "")).upper() == "PROCESS":
        return None
    return ("No taskRunner set: Kestra's default is the Docker task runner, which this emulator "
            "cannot run; set taskRunner: {type: %s}" % m.PROCESS_RUNNER)


def _taskrun_vars(taskrun: TaskRun) -> Dict[str, Any]:
    data: Dict[str, Any] = {"id": taskrun.id, "startDate": iso(taskrun.state.histories[0][1]),
                            "attemptsCount": len(taskrun.attempts)}
    if taskrun.parent_id:
        data["parentId"] = taskrun.parent_id
    if taskrun.value is not None:
        data["value"] = taskrun.value
    if taskrun.iteration is not None:
        data["iteration"] = taskrun.iteration
    return data


def _new_attempt(taskrun: TaskRun) -> State:
    attempt = State("RUNNING")
    taskrun.attempts.append(attempt)
    return attempt


def _as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]
