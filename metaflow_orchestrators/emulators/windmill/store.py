"""In-memory state of the emulated instance: flows, jobs, schedules, variables, folders.

Nothing persists across restarts (the real server keeps it in Postgres); tests start a
fresh emulator, so a process-lifetime store is the honest scope.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .jobs import Job


@dataclass
class Workspace:
    """One tenant; every API path is `/api/w/{workspace}/...` (windmill.md §1)."""

    id: str
    flows: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    jobs: Dict[str, Job] = field(default_factory=dict)
    schedules: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    variables: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    folders: Dict[str, Dict[str, Any]] = field(default_factory=dict)


class Store:
    """All workspaces, behind one lock (requests and worker threads share it)."""

    def __init__(self, workspaces: List[str]) -> None:
        self.lock = threading.RLock()
        self.workspaces: Dict[str, Workspace] = {w: Workspace(w) for w in workspaces}
        self._children: Dict[str, List[Job]] = {}

    def workspace(self, workspace_id: str) -> Optional[Workspace]:
        return self.workspaces.get(workspace_id)

    def add_job(self, job: Job) -> None:
        with self.lock:
            self.workspaces[job.workspace].jobs[job.id] = job
            if job.parent_job:
                self._children.setdefault(job.parent_job, []).append(job)

    def job(self, workspace_id: str, job_id: str) -> Optional[Job]:
        with self.lock:
            ws = self.workspaces.get(workspace_id)
            return ws.jobs.get(job_id) if ws else None

    def children(self, job: Job) -> List[Job]:
        with self.lock:
            return list(self._children.get(job.id, []))

    def flow(self, workspace_id: str, path: str) -> Optional[Dict[str, Any]]:
        with self.lock:
            ws = self.workspaces.get(workspace_id)
            return ws.flows.get(path) if ws else None
