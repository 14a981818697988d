"""The environment of a job process: cleared, then what a Windmill worker provides.

Source: windmill.md §6 (`bash_executor.rs` `env_clear()`, `windmill-common/src/variables.rs`).
"""
from __future__ import annotations

import fnmatch
import os
import time
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Sequence

# bash_executor.rs passes these worker variables through even after env_clear().
PASSED_THROUGH = ("PATH", "HOME")
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


@dataclass
class WorkerEnv:
    """What the emulated worker process has and lets through.

    ``overrides`` play the role of the worker host's own environment (e.g. a PATH with a
    particular Python first); ``whitelist`` is WHITELIST_ENVS (names; `*` globs are an
    emulator convenience); ``workspace_env`` is the workspace's custom env vars."""

    overrides: Mapping[str, str] = field(default_factory=dict)
    whitelist: Sequence[str] = ()
    workspace_env: Mapping[str, str] = field(default_factory=dict)

    def worker_environ(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.overrides)
        return env

    def whitelisted(self) -> Dict[str, str]:
        """The worker variables named in WHITELIST_ENVS (the `envs` of bash_executor.rs)."""
        worker = self.worker_environ()
        return {name: value for name, value in worker.items()
                if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.whitelist)}


@dataclass
class JobIdentity:
    """The per-job facts that become reserved variables."""

    workspace: str
    token: str
    base_url: str
    job_id: str
    job_path: Optional[str]
    flow_job_id: Optional[str]
    root_flow_job_id: Optional[str]
    root_job_id: Optional[str]
    flow_path: Optional[str]
    flow_step_id: Optional[str]
    schedule_path: Optional[str]
    scheduled_for: Optional[str]


def reserved_variables(ident: JobIdentity) -> Dict[str, str]:
    """variables.rs `get_reserved_variables`: every name is set, empty when not applicable;
    there is no retry-count or iteration-index variable (windmill.md §6)."""
    username = "admin"
    trigger = username if ident.schedule_path else "user"
    if ident.flow_path:
        state_path = "%s/%s_%s" % (ident.flow_path, ident.flow_step_id or "nostep", trigger)
    elif ident.job_path:
        state_path = "%s/%s" % (ident.job_path, trigger)
    else:
        state_path = "u/%s/tmp_state" % username
    schedule = "_".join((ident.schedule_path or "manual").split("/"))
    stamp = int(time.time() * 1000)
    if ident.flow_path:
        object_path = "%s/%s/%s/%d_%s" % ("_".join(ident.flow_path.split("/")), schedule,
                                         ident.flow_step_id or "", stamp, ident.job_id)
    else:
        object_path = "%s/%s/%d_%s" % ("_".join((ident.job_path or "").split("/")), schedule, stamp, ident.job_id)
    values = {
        "WM_WORKSPACE": ident.workspace,
        "WM_TOKEN": ident.token,
        "WM_EMAIL": "admin@windmill.dev",
        "WM_USERNAME": username,
        "WM_BASE_URL": ident.base_url,
        "WM_JOB_ID": ident.job_id,
        "WM_SCHEDULED_FOR": ident.scheduled_for,
        "WM_JOB_PATH": ident.job_path,
        "WM_FLOW_JOB_ID": ident.flow_job_id,
        "WM_ROOT_FLOW_JOB_ID": ident.root_flow_job_id,
        "WM_ROOT_JOB_ID": ident.root_job_id,
        "WM_FLOW_PATH": ident.flow_path,
        "WM_SCHEDULE_PATH": ident.schedule_path,
        "WM_PERMISSIONED_AS": "u/%s" % username,
        "WM_STATE_PATH": state_path,
        "WM_FLOW_STEP_ID": ident.flow_step_id,
        "WM_OBJECT_PATH": object_path,
        "WM_WORKER_GROUP": "default",
    }
    return {k: (v or "") for k, v in values.items()}


def job_environment(worker: WorkerEnv, ident: JobIdentity) -> Dict[str, str]:
    """bash_executor.rs: env_clear(), then whitelisted worker envs, reserved variables (with
    the workspace's custom envs), proxy variables, and finally PATH, BASE_INTERNAL_URL, HOME
    taken from the worker."""
    worker_env = worker.worker_environ()
    env = worker.whitelisted()
    env.update(reserved_variables(ident))
    env.update(worker.workspace_env)
    env.update({k: worker_env[k] for k in PROXY_VARS if k in worker_env})
    for name in PASSED_THROUGH:
        if name in worker_env:
            env[name] = worker_env[name]
    env["BASE_INTERNAL_URL"] = ident.base_url
    return env
