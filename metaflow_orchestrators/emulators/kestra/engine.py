"""The emulated server's state: flows (with revisions), executions, logs, and the
lifecycle around each execution (concurrency, SLA, kill, restart, flow triggers)."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from .durations import parse_duration
from .executor import Runner
from .flowables import errors_finally_ids
from .model import FLOWABLE_TYPES, RESTART_AS_RUNNABLE
from .inputs import resolve_inputs
from .parser import label_items, parse_flow
from .pebble import Renderer
from .records import Execution, TaskRun, iso, now

LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]


class NotFound(Exception):
    """A flow or execution does not exist (404)."""


class Conflict(Exception):
    """The request conflicts with the current state (409)."""


class FlowRecord:
    """A stored flow: parsed dict + source text + revision."""

    def __init__(self, flow: Dict[str, Any], source: str, revision: int):
        self.flow = flow
        self.source = source
        self.revision = revision

    def to_json(self, version: int, with_source: bool = True) -> Dict[str, Any]:
        data = {k: v for k, v in self.flow.items() if k != "revision"}
        data.update({"revision": self.revision, "deleted": False, "disabled": bool(self.flow.get("disabled")),
                     "tenantId": "main"})
        if version >= 2:
            data["draft"] = bool(self.flow.get("draft"))  # 2.x FlowWithSource (spec 2.0)
        if with_source:
            data["source"] = self.source
        if "labels" in data:
            data["labels"] = [{"key": k, "value": str(v)} for k, v in label_items(data["labels"])]
        return data


class Engine:
    """All server state; thread-safe through ``lock``."""

    def __init__(self, version: int = 2, workdir: Optional[str] = None):
        self.version = version
        self.hidden_env: frozenset = frozenset()  # secret values tasks never see (create_app)
        self._owned_workdir = workdir is None  # ours to remove at shutdown
        self.workdir = workdir or tempfile.mkdtemp(prefix="kestra-emulator-")
        os.makedirs(self.workdir, exist_ok=True)
        self.lock = threading.RLock()
        self.flows: Dict[Tuple[str, str], FlowRecord] = {}
        self.executions: Dict[str, Execution] = {}
        self.logs: Dict[str, List[Dict[str, Any]]] = {}
        self.runners: Dict[str, Runner] = {}
        self.listeners: List[Callable[[Execution], None]] = []
        self.stopping = threading.Event()

    # ---- flows -----------------------------------------------------------------------
    def create_flow(self, source: str) -> FlowRecord:
        flow = parse_flow(source, self.version)
        key = (flow["namespace"], flow["id"])
        with self.lock:
            if key in self.flows:
                raise Conflict("Flow id '%s' already exists in namespace '%s'" % (flow["id"], flow["namespace"]))
            record = self.flows[key] = FlowRecord(flow, source, 1)
        return record

    def update_flow(self, namespace: str, flow_id: str, source: str) -> FlowRecord:
        flow = parse_flow(source, self.version)
        if (flow["namespace"], flow["id"]) != (namespace, flow_id):
            raise ValueError("Illegal argument: flow id and namespace can't be changed "
                             "(path %s.%s, body %s.%s)" % (namespace, flow_id, flow["namespace"], flow["id"]))
        with self.lock:
            old = self.get_flow(namespace, flow_id)
            same = old.source == source
            record = self.flows[(namespace, flow_id)] = FlowRecord(flow, source, old.revision + (0 if same else 1))
        return record

    def get_flow(self, namespace: str, flow_id: str) -> FlowRecord:
        with self.lock:
            record = self.flows.get((namespace, flow_id))
        if record is None:
            raise NotFound("Unable to find flow %s.%s" % (namespace, flow_id))
        return record

    def delete_flow(self, namespace: str, flow_id: str) -> None:
        with self.lock:
            self.get_flow(namespace, flow_id)
            del self.flows[(namespace, flow_id)]

    # ---- executions ------------------------------------------------------------------
    def create_execution(self, namespace: str, flow_id: str, submitted: Dict[str, Any],
                         labels: List[Dict[str, str]], trigger: Optional[Dict[str, Any]] = None) -> Execution:
        record = self.get_flow(namespace, flow_id)
        flow = record.flow
        if flow.get("disabled"):
            raise Conflict("Cannot execute disabled flow %s.%s" % (namespace, flow_id))
        renderer = Renderer(self.version)
        base = {"flow": {"id": flow_id, "namespace": namespace, "revision": record.revision}}
        inputs = resolve_inputs(flow.get("inputs") or [], submitted,
                                lambda t: renderer.render(t, base), self.version)
        # Execution labels = flow labels + request/trigger labels (source ExecutionController).
        merged = {k: str(v) for k, v in label_items(flow.get("labels"))}
        merged.update({lab["key"]: lab["value"] for lab in labels})
        exe = Execution(flow, record.revision, inputs, [{"key": k, "value": v} for k, v in merged.items()], trigger)
        exe.version = self.version
        # `envs`: the worker's ENV_* variables, lower-cased without the prefix (kestra.md §5.2).
        exe.envs = {k[4:].lower(): v for k, v in os.environ.items() if k.startswith("ENV_")}
        with self.lock:
            self.executions[exe.id] = exe
            self.logs[exe.id] = []
        self._admit(exe)
        return exe

    def _admit(self, exe: Execution) -> None:
        """Flow `concurrency`: over the limit → QUEUED / CANCELLED / FAILED (kestra.md §8.4)."""
        conc = exe.flow.get("concurrency")
        with self.lock:
            running = [e for e in self.executions.values() if e is not exe and e.flow_id == exe.flow_id
                       and e.namespace == exe.namespace and e.id in self.runners and not e.done.is_set()]
            if conc and len(running) >= int(conc["limit"]):
                behavior = conc.get("behavior", "QUEUE")
                if behavior == "QUEUE":
                    exe.state.set("QUEUED")
                    return
                exe.state.set("CANCELLED" if behavior == "CANCEL" else "FAILED")
                exe.done.set()
                self._finished(exe)
                return
        self._start(exe)

    def _start(self, exe: Execution) -> None:
        runner = Runner(exe, self.version, self.workdir, self.add_log, self._register_iteration, self.hidden_env)
        with self.lock:
            self.runners[exe.id] = runner
        threading.Thread(target=self._run, args=(exe, runner), name="exec-" + exe.id, daemon=True).start()
        self._sla_watch(exe, runner)

    def _register_iteration(self, sub: Execution) -> None:
        """2.x Loop iterations are executions of their own (kind LOOP), readable by id."""
        with self.lock:
            self.executions[sub.id] = sub
            self.logs.setdefault(sub.id, [])

    def _run(self, exe: Execution, runner: Runner) -> None:
        try:
            state = runner.run()
        except Exception as exc:  # noqa: BLE001 - an engine bug must not leave a RUNNING execution
            self.add_log(exe, None, 0, "ERROR", "Emulator error: %r" % (exc,))
            state = "FAILED"
        with exe.lock:
            exe.state.set(state)
        exe.done.set()
        self._finished(exe)

    def _finished(self, exe: Execution) -> None:
        self._dequeue(exe)
        for listener in list(self.listeners):
            try:
                listener(exe)
            except Exception as exc:  # noqa: BLE001 - a trigger bug must not break the executor
                self.add_log(exe, None, 0, "ERROR", "Trigger error: %r" % (exc,))

    def _dequeue(self, exe: Execution) -> None:
        with self.lock:
            queued = [e for e in self.executions.values() if e.flow_id == exe.flow_id
                      and e.namespace == exe.namespace and e.state.current == "QUEUED"]
            if not queued:
                return
            nxt = queued[0]
            nxt.state.set("CREATED")
        self._start(nxt)

    def _sla_watch(self, exe: Execution, runner: Runner) -> None:
        """SLA MAX_DURATION: FAIL/CANCEL the execution when it runs longer (kestra.md §8.3)."""
        for sla in exe.flow.get("sla") or []:
            if sla.get("type") != "MAX_DURATION":
                continue
            seconds = parse_duration(sla["duration"])

            def watch(sla: Dict[str, Any] = sla, seconds: float = seconds) -> None:
                if exe.done.wait(seconds):
                    return
                with exe.lock:
                    for key, value in label_items(sla.get("labels")):
                        exe.labels.append({"key": key, "value": str(value)})
                self.add_log(exe, None, 0, "WARN", "SLA '%s' violated: MAX_DURATION %s exceeded"
                             % (sla.get("id"), sla["duration"]))
                if sla.get("behavior") in ("FAIL", "CANCEL"):
                    self._stop(exe, "FAILED" if sla["behavior"] == "FAIL" else "CANCELLED")

            threading.Thread(target=watch, daemon=True).start()

    def get_execution(self, execution_id: str) -> Execution:
        with self.lock:
            exe = self.executions.get(execution_id)
        if exe is None:
            raise NotFound("Unable to find execution %s" % execution_id)
        return exe

    def search(self, namespace: Optional[str], flow_id: Optional[str],
               states: Optional[List[str]] = None, kind: Optional[str] = None,
               parent_id: Optional[str] = None) -> List[Execution]:
        """Loop iteration executions are left out unless a `kind` filter is given
        (jdbc/io/kestra/jdbc/repository/AbstractJdbcExecutionRepository.java@v2.0.0 NORMAL_KIND_CONDITION)."""
        with self.lock:
            found = [e for e in self.executions.values()
                     if (namespace is None or e.namespace == namespace or e.namespace.startswith(namespace + "."))
                     and (flow_id is None or e.flow_id == flow_id)
                     and (not states or e.state.current in states)
                     and (e.kind == kind if kind else e.kind == "NORMAL")
                     and (parent_id is None or e.parent_id == parent_id)]
        return sorted(found, key=lambda e: e.state.histories[0][1], reverse=True)

    def delete_execution(self, execution_id: str) -> None:
        self.get_execution(execution_id)
        with self.lock:
            self.executions.pop(execution_id, None)
            self.logs.pop(execution_id, None)

    # ---- kill / restart --------------------------------------------------------------
    def kill(self, execution_id: str, cascade: bool = True) -> Execution:
        """A finished execution: 409 only with `isOnKillCascade=false`; with the default (true) the kill
        event is emitted anyway and the request accepted, the execution unchanged
        (webserver/.../api/ExecutionController.java@v1.3.25 `killExecution`; webserver is not on Maven
        Central, 1.3.25 is the closest published source)."""
        exe = self.get_execution(execution_id)
        if exe.state.is_terminated():
            if not cascade:
                raise Conflict("Illegal state: Execution is already finished, can't kill it")
            return exe
        self._stop(exe, "KILLED")
        return exe

    def _stop(self, exe: Execution, final: str) -> None:
        """KILLING, then KILLED once running tasks are stopped (kestra.md §11)."""
        with exe.lock:
            if exe.state.is_terminated():
                return
            exe.kill_state = final
            queued = exe.state.current == "QUEUED"
            exe.state.set("KILLING")
            exe.kill_event.set()
            for sub in [exe] + _all_iterations(exe):
                for taskrun in sub.task_runs:
                    if not taskrun.state.is_terminated():
                        taskrun.state.set("KILLING")
        runner = self.runners.get(exe.id)
        if runner is not None:
            runner.kill_processes()
        if queued:
            with exe.lock:
                exe.state.set(final)
            exe.done.set()
            self._finished(exe)

    def restart(self, execution_id: str) -> Execution:
        """Same execution id; only FAILED (or PAUSED) task runs and their ancestors run again, every
        other task run keeps its state, attempts and outputs; errors/finally task runs are dropped and
        run again; label system.restarted=true; metadata.attemptNumber + 1
        (core/io/kestra/core/services/ExecutionService.java@v1.3.34/@v2.0.0 `restart`, `mapTaskRun`,
        TaskRun.forChildExecution keeps `attempts`). Refusals, via the web ErrorController
        (webserver/.../controllers/ErrorController.java@v1.3.25: IllegalStateException → 409 "Illegal
        state: ...", IllegalArgumentException → 422 "Illegal argument: ..."):
        - state: 1.3 `canBeRestarted` = terminated or paused and not KILLED (State.java@v1.3.34);
          2.0 = FAILED or PAUSED only (State.java@v2.0.0);
        - no FAILED/PAUSED task run → "No task found to restart execution from!" (2.0: an execution
          without any task run restarts from scratch)."""
        exe = self.get_execution(execution_id)
        with exe.lock:
            current = exe.state.current
            ok = current in ("FAILED", "PAUSED") if self.version >= 2 else (
                (exe.state.is_terminated() or current == "PAUSED") and current != "KILLED")
            if not ok:
                raise Conflict("Illegal state: Execution must be terminated or paused and not killed to be "
                               "restarted, current state is '%s' !" % current)
            failed = [t for t in exe.task_runs if t.state.current in ("FAILED", "PAUSED")]
            if not failed and not (self.version >= 2 and not exe.task_runs):
                raise ValueError("Illegal argument: No task found to restart execution from!")
            exe.mark_for_restart(FLOWABLE_TYPES, errors_finally_ids(exe.flow), RESTART_AS_RUNNABLE)
            exe.kill_event.clear()
            exe.kill_state = "KILLED"
            exe.done.clear()
            exe.attempt_number += 1
            if not any(lab["key"] == "system.restarted" for lab in exe.labels):
                exe.labels.append({"key": "system.restarted", "value": "true"})
            exe.state.set("RESTARTED")
        self._start(exe)
        return exe

    # ---- logs ------------------------------------------------------------------------
    def add_log(self, exe: Execution, taskrun: Optional[TaskRun], attempt: int, level: str, message: str) -> None:
        entry = {"namespace": exe.namespace, "flowId": exe.flow_id, "executionId": exe.id,
                 "timestamp": iso(now()), "level": level, "message": message, "thread": "worker"}
        if taskrun is not None:
            entry.update({"taskId": taskrun.task_id, "taskRunId": taskrun.id, "attemptNumber": max(attempt - 1, 0)})
        with self.lock:
            self.logs.setdefault(exe.id, []).append(entry)

    def get_logs(self, execution_id: str, min_level: Optional[str] = None, task_id: Optional[str] = None,
                 taskrun_id: Optional[str] = None, attempt: Optional[int] = None) -> List[Dict[str, Any]]:
        self.get_execution(execution_id)
        floor = LEVELS.index(min_level) if min_level in LEVELS else 0
        with self.lock:
            entries = list(self.logs.get(execution_id, []))
        return [e for e in entries if LEVELS.index(e["level"]) >= floor
                and (task_id is None or e.get("taskId") == task_id)
                and (taskrun_id is None or e.get("taskRunId") == taskrun_id)
                and (attempt is None or e.get("attemptNumber") == attempt)]

    def shutdown(self) -> None:
        self.stopping.set()
        for exe in list(self.executions.values()):
            if not exe.state.is_terminated():
                self._stop(exe, "KILLED")
        if self._owned_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)  # a temporary directory we created


def _all_iterations(exe: Execution) -> List[Execution]:
    out: List[Execution] = []
    for sub in exe.iterations:
        out.append(sub)
        out.extend(_all_iterations(sub))
    return out
