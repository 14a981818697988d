"""Jobs and their REST shapes (`QueuedJob` / `CompletedJob`, windmill.md §11, spec 1.743).

Every flow run is a job; every module execution, loop iteration and branch is a child
job with `parent_job` set, as in Windmill, so the same objects serve `jobs_u/get` for a
run and for any of its steps.
"""
from __future__ import annotations

import copy
import datetime as dt
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

USERNAME = "admin"
EMAIL = "admin@windmill.dev"
PERMISSIONED_AS = "u/admin"
DEFAULT_TAG = "flow"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(value: Optional[dt.datetime]) -> Optional[str]:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Job:
    """One Windmill job; mutable while it runs, guarded by ``lock``."""

    id: str
    workspace: str
    job_kind: str
    script_path: Optional[str] = None
    parent_job: Optional[str] = None
    root_job: Optional[str] = None
    flow_step_id: Optional[str] = None
    args: Dict[str, Any] = field(default_factory=dict)
    raw_flow: Optional[Dict[str, Any]] = None
    raw_code: Optional[str] = None
    language: Optional[str] = None
    schedule_path: Optional[str] = None
    created_at: dt.datetime = field(default_factory=now)
    scheduled_for: dt.datetime = field(default_factory=now)
    started_at: Optional[dt.datetime] = None
    completed_at: Optional[dt.datetime] = None
    running: bool = False
    completed: bool = False
    success: bool = False
    is_skipped: bool = False
    result: Any = None
    logs: str = ""
    canceled: bool = False
    canceled_by: Optional[str] = None
    canceled_reason: Optional[str] = None
    flow_status: Optional[Dict[str, Any]] = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    done_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def is_flow_step(self) -> bool:
        """Windmill marks every job pushed by a flow as a flow step."""
        return self.parent_job is not None

    def start(self) -> None:
        with self.lock:
            self.running = True
            self.started_at = now()

    def finish(self, success: bool, result: Any, skipped: bool = False) -> None:
        with self.lock:
            if self.completed:
                return
            self.success = success
            self.result = result
            self.is_skipped = skipped
            self.running = False
            self.completed = True
            if self.started_at is None:
                self.started_at = now()
            self.completed_at = now()
        self.done_event.set()

    def duration_ms(self) -> int:
        if self.started_at is None or self.completed_at is None:
            return 0
        return int((self.completed_at - self.started_at).total_seconds() * 1000)

    def to_api(self, with_logs: bool = True) -> Dict[str, Any]:
        """The `Job` model: `CompletedJob` or `QueuedJob`, discriminated by `type`."""
        with self.lock:
            body = self._common()
            if not with_logs:
                body.pop("logs", None)
            if self.completed:
                body.update(type="CompletedJob", success=self.success, result=copy.deepcopy(self.result),
                            completed_at=iso(self.completed_at), duration_ms=self.duration_ms(),
                            is_skipped=self.is_skipped, deleted=False)
            else:
                body.update(type="QueuedJob", running=self.running, scheduled_for=iso(self.scheduled_for),
                            last_ping=iso(now()) if self.running else None)
            return {k: v for k, v in body.items() if v is not None}

    def _common(self) -> Dict[str, Any]:
        return {
            "workspace_id": self.workspace,
            "id": self.id,
            "parent_job": self.parent_job,
            "root_job": self.root_job,
            "created_by": USERNAME,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "script_path": self.script_path,
            "args": copy.deepcopy(self.args),
            "logs": self.logs,
            "raw_code": self.raw_code,
            "canceled": self.canceled,
            "canceled_by": self.canceled_by,
            "canceled_reason": self.canceled_reason,
            "job_kind": self.job_kind,
            "schedule_path": self.schedule_path,
            "permissioned_as": PERMISSIONED_AS,
            "flow_status": copy.deepcopy(self.flow_status),
            "raw_flow": copy.deepcopy(self.raw_flow),
            "is_flow_step": self.is_flow_step,
            "language": self.language,
            "email": EMAIL,
            "visible_to_owner": True,
            "tag": DEFAULT_TAG if self.job_kind == "flow" else (self.language or DEFAULT_TAG),
            "priority": None,
        }

    def result_maybe(self, get_started: bool = False) -> Dict[str, Any]:
        """`get_result_maybe`: `{completed, result, success, started}`."""
        with self.lock:
            body: Dict[str, Any] = {"completed": self.completed,
                                    "result": copy.deepcopy(self.result) if self.completed else None}
            if self.completed:
                body["success"] = self.success
            if get_started:
                body["started"] = self.started_at is not None
            return body


def module_status(module_id: str, status_type: str = "WaitingForPriorSteps") -> Dict[str, Any]:
    """A `FlowStatusModule` entry (openflow `FlowStatusModule`)."""
    return {"type": status_type, "id": module_id}


def new_flow_status(modules: List[Dict[str, Any]]) -> Dict[str, Any]:
    """`FlowStatus` with every module waiting (openflow `FlowStatus`)."""
    status: Dict[str, Any] = {
        "step": 0,
        "modules": [module_status(m.get("id", "")) for m in modules],
        "failure_module": module_status("failure"),
        "retry": {"fail_count": 0, "failed_jobs": []},
        "user_states": {},
    }
    return status
