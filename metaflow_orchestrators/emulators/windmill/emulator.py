"""The emulated instance: store + engine + scheduler, and the settings they share."""
from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Mapping, Optional, Sequence

from .environment import WorkerEnv
from .executor import Engine, Settings
from .schedules import Scheduler
from .store import Store

DEFAULT_TOKEN = "windmill-emulator-token"
DEFAULT_WORKSPACE = "admins"


class Emulator:
    """Everything the REST handlers need, created once per app."""

    def __init__(self, token: str, workspaces: Sequence[str], workdir: str,
                 worker_env: Optional[Mapping[str, str]] = None, whitelist_env: Sequence[str] = (),
                 workspace_env: Optional[Mapping[str, str]] = None, keep_job_dirs: bool = False,
                 wait_result_timeout: float = 300.0, login_email: str = "admin@windmill.dev",
                 login_password: str = "changeme") -> None:
        self.token = token
        self.login_email = login_email
        self.login_password = login_password
        self.wait_result_timeout = wait_result_timeout
        self.store = Store(list(workspaces))
        env = WorkerEnv(overrides=dict(worker_env or {}), whitelist=tuple(whitelist_env),
                        workspace_env=dict(workspace_env or {}))
        self.settings = Settings(token=token, workdir=workdir, worker_env=env, keep_job_dirs=keep_job_dirs,
                                 variables=self._variable_value)
        self.engine = Engine(self.store, self.settings)
        self.scheduler = Scheduler(self.store, self._fire_schedule)

    def set_base_url(self, url: str) -> None:
        """BASE_INTERNAL_URL / WM_BASE_URL given to jobs: where this server listens."""
        self.settings.base_url = url

    def _variable_value(self, workspace: str, path: str) -> Optional[str]:
        with self.store.lock:
            record = self.store.workspaces[workspace].variables.get(path)
            return None if record is None else record.get("value")

    def _fire_schedule(self, workspace: str, sched: Dict[str, Any], when: dt.datetime) -> Any:
        """A tick: run the flow with the schedule's args as flow args (windmill.md §13)."""
        flow = self.store.flow(workspace, sched["script_path"])
        if flow is None:
            return None
        return self.engine.launch_flow(workspace, sched["script_path"], flow["value"], sched.get("args") or {},
                                       scheduled_for=when, schedule_path=sched["path"],
                                       no_overlap=bool(sched.get("no_flow_overlap")))
