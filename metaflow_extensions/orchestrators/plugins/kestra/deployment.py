"""From Metaflow's CLI objects and our options to what the compiler and client need.

Kept apart from ``cli.py`` so the Deployer objects (which have no flow loaded) and the
CLI share one meaning for every option: names, connection, run ids, statuses.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from ..plan import Plan
from ..runtime import ids
from ..engine import deploy_options as engine_deploy_options
from ..engine import setting
from ..runtime.spec import DeployOptions
from .client import KestraClient
from .compiler import KestraTarget
from .naming import check_flow_name, check_namespace, flow_id

ENGINE = "kestra"
LABEL_FLOW = "metaflow-flow"
LABEL_PROJECT = "metaflow-project"
LABEL_BRANCH = "metaflow-branch"
LABEL_OWNER = "metaflow-owner"


@dataclass(frozen=True)
class Connection:
    """How to reach Kestra. Credentials are resolved at use time from options, the
    environment or the Metaflow config; this object is never serialised."""

    host: str
    user: Optional[str] = None
    password: Optional[str] = None
    token: Optional[str] = None
    tenant: Optional[str] = None
    namespace: str = "metaflow"

    def client(self) -> KestraClient:
        return KestraClient(self.host, username=self.user, password=self.password, token=self.token,
                            tenant=self.tenant)

    def __repr__(self) -> str:
        return "Connection(host=%r, namespace=%r)" % (self.host, self.namespace)


def connection(host=None, user=None, password=None, token=None, tenant=None, namespace=None) -> Connection:
    """Options first, then the environment as it is now, then the Metaflow config."""
    return Connection(
        host=setting(host, "KESTRA_HOST").rstrip("/"),
        user=setting(user, "KESTRA_USER"),
        password=setting(password, "KESTRA_PASSWORD"),
        token=setting(token, "KESTRA_TOKEN"),
        tenant=setting(tenant, "KESTRA_TENANT"),
        namespace=check_namespace(setting(namespace, "KESTRA_NAMESPACE")),
    )


def deployment_name(plan: Plan, name: Optional[str]) -> str:
    """``--name``, else the project-aware name (``proj.branch.Flow``), else the class name."""
    if name:
        return check_flow_name(name)
    return flow_id(plan.project.flow_name if plan.project else plan.flow_name)


def deploy_options(obj, plan: Plan, tags=(), namespace=None, code_package: bool = False) -> DeployOptions:
    return engine_deploy_options(ENGINE, obj, plan, tags, namespace, code_package)


def target(plan: Plan, conn: Connection, fid: str, version: int, max_workers: int = 16,
           workflow_timeout: Optional[int] = None, python: Optional[str] = None,
           webhook_keys: Tuple[Tuple[str, str], ...] = (), task_runner: str = "process",
           image: Optional[str] = None) -> KestraTarget:
    from metaflow.util import get_username

    labels = {LABEL_FLOW: plan.flow_name}
    owner = get_username()
    if owner:
        labels[LABEL_OWNER] = owner
    if plan.project:
        labels[LABEL_PROJECT] = plan.project.name
        labels[LABEL_BRANCH] = plan.project.branch
    return KestraTarget(
        namespace=conn.namespace, flow_id=fid, version=version, max_workers=max_workers,
        workflow_timeout=workflow_timeout, python=python or "python3",
        webhook_secret=os.environ.get("KESTRA_WEBHOOK_SECRET") or None,
        labels=tuple(sorted(labels.items())),
        webhook_keys=webhook_keys,
        task_runner=task_runner,
        image=image,
    )


# --- runs -------------------------------------------------------------------------------

_PREFIX = ENGINE + "-"


def run_id(execution_id: str) -> str:
    return ids.run_id(ENGINE, execution_id)


def execution_id(run_or_execution: str) -> str:
    """Accepts a Metaflow run id (``kestra-<id>``), a pathspec or a Kestra execution id."""
    text = run_or_execution.rsplit("/", 1)[-1]
    return text[len(_PREFIX):] if text.startswith(_PREFIX) else text


# Kestra state -> what Metaflow's deployer tests expect from ``TriggeredRun.status``.
STATUS = {
    "CREATED": "PENDING", "QUEUED": "PENDING", "SUBMITTED": "PENDING", "RESTARTED": "RUNNING",
    "RUNNING": "RUNNING", "KILLING": "RUNNING", "RETRYING": "RUNNING", "PAUSED": "RUNNING",
    "BREAKPOINT": "RUNNING", "RESUBMITTED": "RUNNING",
    "SUCCESS": "SUCCEEDED", "WARNING": "SUCCEEDED", "SKIPPED": "SUCCEEDED",
    "FAILED": "FAILED", "KILLED": "ABORTED", "CANCELLED": "ABORTED", "RETRIED": "FAILED",
}


def status_of(execution: Mapping[str, Any]) -> str:
    return STATUS.get(execution.get("state", {}).get("current", ""), "PENDING")


def split_identifier(identifier: str, default_namespace: str) -> Tuple[str, str]:
    """A deployment id is the Kestra flow id, optionally ``namespace/flow id``."""
    if "/" in identifier:
        ns, fid = identifier.split("/", 1)
        return ns, fid
    return default_namespace, identifier


def flow_labels(flow: Mapping[str, Any]) -> Dict[str, str]:
    labels = flow.get("labels") or {}
    if isinstance(labels, list):
        return {item["key"]: item["value"] for item in labels}
    return dict(labels)
