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
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional

from . import model as m
from .durations import parse_duration
from .flowables import FlowablesMixin
from .pebble import PebbleError, Renderer, is_truthy, render_data, to_text
from .records import Execution, State, TaskRun, final_state, iso, now
from .scope import Scope
from .scripts import build_spec, new_workdir, run_attempt

MAX_THREADS = 32
LogSink = Callable[[Execution, Optional[TaskRun], int, str, str], None]


class Runner(FlowablesMixin):
    """Executes one Execution to a terminal state (also used again for restart)."""

    def __init__(self, execution: Execution, version: int, workdir: str, log: LogSink):
        self.exe = execution
        self.version = version
        self.workdir = workdir
        self.log_sink = log
        self.renderer = Renderer(version)
        self.processes: List[Any] = []
        self.proc_lock = threading.Lock()

    # ---- entry point -----------------------------------------------------------------
    def run(self) -> str:
        exe = self.exe
        with exe.lock:
            exe.state.set("RUNNING")
        root = Scope(None, (), exe.outputs, retry=exe.flow.get("retry"))
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
        """Children one after another; stop at the first failure (kestra.md §11 Sequential)."""
        states: List[Optional[str]] = []
        for task in tasks:
            if self.exe.kill_event.is_set() and not ignore_kill:
                break
            state = self.run_task(task, scope)
            states.append(state)
            if state in ("FAILED", "KILLED"):
                break
        return final_state(states)

    def run_concurrently(self, jobs: List[Callable[[], str]], limit: int, fail_fast: bool = True,
                         stop: Optional[threading.Event] = None) -> str:
        """Run jobs with at most ``limit`` at once (0 = all); stop launching after a failure
        unless ``fail_fast`` is off (Loop `transmitFailed: false`)."""
        if not jobs:
            return "SUCCESS"
        # "Unlimited" is capped at MAX_THREADS per group so a huge fan-out cannot exhaust the host
        # (a real worker also has a bounded thread pool, `kestra.worker` threads).
        workers = min(len(jobs) if limit <= 0 else min(limit, len(jobs)), MAX_THREADS)
        states: List[str] = []
        failed = threading.Event()

        def guarded(job: Callable[[], str]) -> str:
            if failed.is_set() or self.exe.kill_event.is_set() or (stop is not None and stop.is_set()):
                return "SUCCESS"  # never started: no task run, no effect on the group state
            state = job()
            if state in ("FAILED", "KILLED") and fail_fast:
                failed.set()
            return state

        with ThreadPoolExecutor(max_workers=workers) as pool:
            states = list(pool.map(guarded, jobs))
        return final_state(states)

    # ---- one task --------------------------------------------------------------------
    def run_task(self, task: Dict[str, Any], scope: Scope) -> Optional[str]:
        if task.get("disabled"):
            return None  # disabled tasks get no task run (kestra.md §3.1)
        key = (task["id"], scope.values, scope.loop_path)
        with self.exe.lock:
            taskrun = self.exe.by_key.get(key)
            if taskrun is not None and taskrun.state.current in ("SUCCESS", "WARNING", "SKIPPED"):
                # Restart keeps successful task runs and their outputs (ExecutionService.restart).
                return taskrun.state.current
            if taskrun is None:
                taskrun = self._new_taskrun(task, scope, key)
            elif taskrun.state.current not in ("RESTARTED", "RUNNING"):
                taskrun.state.set("RESTARTED")
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
        state = self._allow(task, state)
        with self.exe.lock:
            taskrun.state.set(state)
        return state

    def _new_taskrun(self, task: Dict[str, Any], scope: Scope, key: tuple) -> TaskRun:
        value = scope.values[-1] if scope.values else (scope.item or {}).get("value")
        # ForEach children carry a 0-based iteration in 1.x (kestra-io/kestra#11206); Loop its index.
        iteration = (scope.item or {}).get("index", scope.iteration)
        taskrun = TaskRun(self.exe, task, scope.parent.id if scope.parent else None, value, iteration, key)
        self.exe.task_runs.append(taskrun)
        self.exe.by_key[key] = taskrun
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
        started = now()
        while True:
            state, outputs = self._attempt(task, taskrun, scope, timeout)
            if state == "SUCCESS" or self.exe.kill_event.is_set():
                break
            delay = self._retry_delay(retry, len(taskrun.attempts), started)
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
            self._store_outputs(taskrun, scope, outputs)
        return state

    def _attempt(self, task: Dict[str, Any], taskrun: TaskRun, scope: Scope,
                 timeout: Optional[float]) -> tuple:
        # attemptsCount = attempts recorded before this one: the run context is built before
        # Worker.runAttempt appends the new attempt (RunVariables.java), so 0 on the first try.
        ctx = self.context(task, scope, taskrun)
        attempt = _new_attempt(taskrun)
        number = len(taskrun.attempts)
        try:
            state, outputs = self._execute(task, taskrun, ctx, number, timeout)
        except PebbleError as exc:
            # A render error fails the attempt (kestra.md §5.1 strict lookups).
            self.log(taskrun, number, "ERROR", str(exc))
            state, outputs = "FAILED", None
        attempt.set(state)
        return state, outputs

    def _execute(self, task: Dict[str, Any], taskrun: TaskRun, ctx: Dict[str, Any], number: int,
                 timeout: Optional[float]) -> tuple:
        ttype = task["type"]
        log = lambda level, msg: self.log(taskrun, number, level, msg)  # noqa: E731
        if ttype in m.SCRIPT_TYPES:
            problem = runner_problem(task, self.version)
            if problem:
                log("ERROR", problem)
                return "FAILED", None
            workdir = new_workdir(self.workdir)
            ctx = dict(ctx, workingDir=workdir, outputDir=workdir)
            try:
                spec = build_spec(task, lambda v: render_data(self.renderer, v, ctx), workdir)
                return run_attempt(spec, log, timeout, self._register)
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

    def _register(self, proc: Any) -> None:
        with self.proc_lock:
            if proc is None:
                self.processes = [p for p in self.processes if p.proc is None or p.proc.poll() is None]
            else:
                self.processes.append(proc)
                if self.exe.kill_event.is_set():
                    proc.killed = True
                    proc.kill()

    def kill_processes(self) -> None:
        with self.proc_lock:
            for proc in self.processes:
                proc.killed = True
                proc.kill()

    def _retry_delay(self, retry: Any, attempts: int, started: Any) -> Optional[float]:
        """Delay before the next attempt, or None: retry while attempts < maxAttempts (TaskRun.nextRetryDate)."""
        if not retry:
            return None
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
        if retry.get("maxDuration") and (now() - started).total_seconds() + delay > parse_duration(retry["maxDuration"]):
            return None
        return delay

    def _store_outputs(self, taskrun: TaskRun, scope: Scope, outputs: Optional[Dict[str, Any]]) -> None:
        """Inside ForEach, outputs are keyed by each enclosing value (kestra.md §6.1)."""
        if outputs is None:
            return
        with self.exe.lock:
            taskrun.outputs = outputs
            target = scope.outputs
            path = (taskrun.task_id,) + scope.values
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = outputs

    # ---- rendering context -----------------------------------------------------------
    def render(self, template: Any, ctx: Dict[str, Any]) -> str:
        return self.renderer.render(template if isinstance(template, str) else to_text(template), ctx)

    def context(self, task: Optional[Dict[str, Any]], scope: Scope, taskrun: Optional[TaskRun]) -> Dict[str, Any]:
        """Variables of RunVariables.java (kestra.md §5.2)."""
        exe = self.exe
        with exe.lock:
            ctx: Dict[str, Any] = {
                "execution": {"id": exe.id, "startDate": iso(exe.state.histories[0][1]),
                              "originalId": exe.original_id, "state": exe.state.current},
                "flow": {"id": exe.flow_id, "namespace": exe.namespace, "revision": exe.revision,
                         "tenantId": "main"},
                "outputs": copy.deepcopy(scope.outputs),
                "labels": {lab["key"]: lab["value"] for lab in exe.labels},
                "envs": dict(exe.envs) if hasattr(exe, "envs") else {},
            }
            if exe.flow.get("variables") is not None:
                ctx["vars"] = exe.flow["variables"]
            if exe.flow.get("inputs"):
                ctx["inputs"] = exe.inputs  # only when the flow declares inputs (RunVariables)
            if exe.trigger is not None:
                ctx["trigger"] = exe.trigger.get("variables", {})
            if task is not None:
                ctx["task"] = {"id": task["id"], "type": task["type"]}
            if taskrun is not None:
                ctx["taskrun"] = _taskrun_vars(taskrun)
            self._value_vars(ctx, scope)
        return ctx

    @staticmethod
    def _value_vars(ctx: Dict[str, Any], scope: Scope) -> None:
        if scope.values:
            # parents[0] is the closest enclosing ForEach value, `parent` = parents[0] (kestra.md §6.1).
            parents = [{"taskrun": {"value": v}} for v in reversed(scope.values[:-1])]
            ctx.setdefault("taskrun", {})["value"] = scope.values[-1]
            if parents:
                ctx["parents"] = parents
                ctx["parent"] = parents[0]
        if scope.item is not None:
            ctx["item"] = scope.item  # 2.x Loop: item.value/index/parent/parents (kestra.md §6.2)

    def log(self, taskrun: Optional[TaskRun], attempt: int, level: str, message: str) -> None:
        self.log_sink(self.exe, taskrun, attempt, level, message)


def runner_problem(task: Dict[str, Any], version: int) -> Optional[str]:
    """Script tasks default to the Docker task runner (kestra.md §3.2); only Process runs here.
    1.x still honours the deprecated `runner: PROCESS` (deprecated 0.18, ignored in 2.x)."""
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
