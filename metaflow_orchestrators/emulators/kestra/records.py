"""Executions, task runs and their states, shaped like the OpenAPI models
(`Execution`, `TaskRun`, `TaskRunAttempt`, `State` in specs/kestra-openapi-*.yml)."""
from __future__ import annotations

import datetime as _dt
import secrets
import string
import threading
from typing import Any, Dict, List, Optional, Tuple

from .durations import format_duration

# State sets (kestra.md §11, source 0.21 `models/flows/State.java`).
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED"}
FAILED_LIKE = {"FAILED", "KILLED"}

_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """Kestra ids are 22-char base62 strings (source `utils/IdUtils`)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(22))


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(ts: _dt.datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ts.microsecond // 1000)


class State:
    """Current state plus history, as `State` in the spec."""

    def __init__(self, current: str = "CREATED"):
        self.histories: List[Tuple[str, _dt.datetime]] = [(current, now())]

    @property
    def current(self) -> str:
        return self.histories[-1][0]

    def set(self, value: str) -> None:
        if value != self.current:
            self.histories.append((value, now()))

    def is_terminated(self) -> bool:
        return self.current in TERMINAL

    def to_json(self, version: int = 1) -> Dict[str, Any]:
        start = self.histories[0][1]
        end = self.histories[-1][1] if self.is_terminated() else None
        data: Dict[str, Any] = {
            "current": self.current,
            "histories": [{"state": s, "date": iso(d)} for s, d in self.histories],
            "startDate": iso(start),
            "duration": format_duration(((end or now()) - start).total_seconds()),
        }
        if end is not None:
            data["endDate"] = iso(end)
        if version >= 2:
            # The 2.0 spec lists the Java getters as State properties; serve them too so clients
            # generated from it (kestrapy 2.x) can deserialize.
            data.update({"get" + k[0].upper() + k[1:]: data[k] for k in ("duration", "startDate", "endDate")
                         if k in data})
        return data


def final_state(states: List[Optional[str]]) -> str:
    """Group result: first of KILLED > FAILED > WARNING > PAUSED > SUCCESS
    (source 0.21 `Execution.guessFinalState`, kestra.md §11)."""
    present = {s for s in states if s}
    for candidate in ("KILLED", "FAILED", "CANCELLED", "WARNING", "PAUSED"):
        if candidate in present:
            return "KILLED" if candidate == "CANCELLED" else candidate
    return "SUCCESS"


class TaskRun:
    """One task run; retries append attempts to the same run (kestra.md §7)."""

    def __init__(self, execution: "Execution", task: Dict[str, Any], parent_id: Optional[str],
                 value: Optional[str], iteration: Optional[int], key: tuple):
        self.id = new_id()
        self.execution = execution
        self.task_id: str = task["id"]
        self.task_type: str = task["type"]
        self.parent_id = parent_id
        self.value = value
        self.iteration = iteration
        self.key = key
        self.attempts: List[State] = []
        self.outputs: Optional[Dict[str, Any]] = None
        self.state = State("CREATED")

    def to_json(self, with_outputs: bool) -> Dict[str, Any]:
        exe = self.execution
        data: Dict[str, Any] = {
            "id": self.id, "executionId": exe.id, "namespace": exe.namespace, "flowId": exe.flow_id,
            "taskId": self.task_id, "state": self.state.to_json(exe.version),
            "attempts": [{"state": a.to_json(exe.version)} for a in self.attempts],
        }
        if self.parent_id:
            data["parentTaskRunId"] = self.parent_id
        if self.value is not None:
            data["value"] = self.value
        if self.iteration is not None:
            data["iteration"] = self.iteration
        # 2.x removed outputs from taskRunList (kestra.md §4, spec 2.0), but the field stays, always
        # serialized: `"outputs": null` (TaskRun.java@v2.0.0 `@JsonInclude(ALWAYS)`, seen on the real engine).
        if with_outputs and self.outputs is not None:
            data["outputs"] = self.outputs
        elif not with_outputs:
            data["outputs"] = None
        return data


class Execution:
    """An execution of one flow revision; mutated only under ``lock``."""

    def __init__(self, flow: Dict[str, Any], revision: int, inputs: Dict[str, Any],
                 labels: List[Dict[str, str]], trigger: Optional[Dict[str, Any]]):
        self.id = new_id()
        self.original_id = self.id
        self.flow = flow
        self.namespace: str = flow["namespace"]
        self.flow_id: str = flow["id"]
        self.revision = revision
        self.inputs = inputs
        self.labels = labels
        self.trigger = trigger
        self.state = State("CREATED")
        self.task_runs: List[TaskRun] = []
        self.by_key: Dict[tuple, TaskRun] = {}
        self.flow_outputs: Optional[Dict[str, Any]] = None
        self.attempt_number = 1
        self.lock = threading.RLock()
        self.kill_event = threading.Event()
        self.kill_state = "KILLED"
        self.done = threading.Event()
        self.version = 1
        self.kind = "NORMAL"
        self.parent_id: Optional[str] = None
        # 2.x Loop iteration: {parent (Execution), taskId, taskRunId, index, key, value, parents}
        # (core/io/kestra/core/models/executions/LoopRun.java@v2.0.0).
        self.loop_run: Optional[Dict[str, Any]] = None
        self.iterations: List["Execution"] = []  # 2.x: this execution's Loop iteration sub-executions
        self.envs: Dict[str, str] = {}

    def mark_for_restart(self, flowable_types: set, dropped_task_ids: set,
                         restart_as_runnable: frozenset = frozenset()) -> bool:
        """ExecutionService.restart@v1.3.34/@v2.0.0 on the task runs: FAILED/PAUSED task runs and their
        ancestors are restarted (runnable → RESTARTED, flowable → RUNNING), errors/finally task runs are
        removed; False when there is no such task run."""
        failed = [t for t in self.task_runs if t.state.current in ("FAILED", "PAUSED")]
        by_id = {t.id: t for t in self.task_runs}
        restart_ids = set()
        for taskrun in failed:
            node = taskrun
            restart_ids.add(node.id)
            while node.parent_id in by_id:
                node = by_id[node.parent_id]
                restart_ids.add(node.id)
        for taskrun in list(self.task_runs):
            if taskrun.task_id in dropped_task_ids:
                self.task_runs.remove(taskrun)
                self.by_key.pop(taskrun.key, None)
            elif taskrun.id in restart_ids:
                taskrun.state.set("RUNNING" if taskrun.task_type in flowable_types
                                  and taskrun.task_type not in restart_as_runnable else "RESTARTED")
        return bool(failed)

    def loop_execution(self, loop_taskrun: "TaskRun", index: int, key: Optional[str], value: str) -> "Execution":
        """A Loop iteration's sub-execution (core/io/kestra/core/models/executions/Execution.java@v2.0.0
        `loopExecution`): fresh id, kind LOOP, parentId = this execution's id, no originalId, no
        inputs/outputs/trigger of its own, labels and variables copied, `loopRun` pointing at the Loop."""
        sub = Execution(self.flow, self.revision, {}, [dict(lab) for lab in self.labels], None)
        sub.original_id = None
        sub.kind = "LOOP"
        sub.parent_id = self.id
        sub.version = self.version
        sub.envs = self.envs
        sub.kill_event = self.kill_event
        sub.lock = self.lock  # one lock per root execution tree
        parents = None
        if self.loop_run is not None:
            # computeParents(): the enclosing iterations, outermost first.
            parents = list(self.loop_run["parents"] or []) + [
                {"index": self.loop_run["index"], "key": self.loop_run["key"], "value": self.loop_run["value"]}]
        sub.loop_run = {"parent": self, "taskId": loop_taskrun.task_id, "taskRunId": loop_taskrun.id,
                        "index": index, "key": key, "value": value, "parents": parents,
                        # the parent's task runs when the iteration was created (LoopRun.parent is a snapshot)
                        "parentTaskRunIds": {t.id for t in self.task_runs}}
        return sub

    def to_json(self, version: int) -> Dict[str, Any]:
        with self.lock:
            data: Dict[str, Any] = {
                "id": self.id, "namespace": self.namespace, "flowId": self.flow_id,
                "flowRevision": self.revision, "state": self.state.to_json(version), "deleted": False,
                "tenantId": "main",
                "labels": list(self.labels), "inputs": self.inputs, "originalId": self.original_id,
                "taskRunList": [t.to_json(version < 2) for t in self.task_runs],
                "metadata": {"attemptNumber": self.attempt_number, "originalCreatedDate": iso(
                    self.state.histories[0][1])},
                "kind": self.kind,
            }
            if self.original_id is None:
                del data["originalId"]
            if not self.task_runs:
                # Execution.newExecution leaves taskRunList null until the first task run and the
                # API omits nulls (core/io/kestra/core/models/executions/Execution.java@v1.3.31/@v2.0.0,
                # `jackson.serialization-inclusion: non_null`): no key, not [].
                del data["taskRunList"]
            if self.parent_id is not None:
                data["parentId"] = self.parent_id
            if self.loop_run is not None:
                # LoopRun without its embedded parent execution (only its id is served).
                run = self.loop_run
                data["loopRun"] = {k: run[k] for k in ("taskId", "taskRunId", "index", "value")}
                if run["key"] is not None:
                    data["loopRun"]["key"] = run["key"]
                if run["parents"] is not None:
                    data["loopRun"]["parents"] = run["parents"]
            if self.flow.get("variables"):
                data["variables"] = self.flow["variables"]
            if self.flow_outputs is not None and version < 2:
                # 2.0 keeps flow outputs out of the execution body (Execution.java@v2.0.0 `outputs`
                # "pre-2.0 compatibility layer", NON_EMPTY; absent on the real 2.0.0 engine).
                data["outputs"] = self.flow_outputs
            if self.trigger is not None:
                data["trigger"] = {"id": self.trigger["id"], "type": self.trigger["type"],
                                   "variables": self.trigger.get("variables", {})}
            return data
