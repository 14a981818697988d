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
        # 2.x removed outputs from taskRunList (kestra.md §4, spec 2.0).
        if with_outputs and self.outputs is not None:
            data["outputs"] = self.outputs
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
        self.outputs: Dict[str, Any] = {}
        self.iteration_outputs: Dict[tuple, Dict[str, Any]] = {}
        self.flow_outputs: Optional[Dict[str, Any]] = None
        self.attempt_number = 1
        self.lock = threading.RLock()
        self.kill_event = threading.Event()
        self.kill_state = "KILLED"
        self.done = threading.Event()
        self.version = 1

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
                "kind": "NORMAL",
            }
            if self.flow.get("variables"):
                data["variables"] = self.flow["variables"]
            if self.flow_outputs is not None:
                data["outputs"] = self.flow_outputs
            if self.trigger is not None:
                data["trigger"] = {"id": self.trigger["id"], "type": self.trigger["type"],
                                   "variables": self.trigger.get("variables", {})}
            return data
