"""Plan + deploy options -> the static facts a task needs (a plain JSON-able dict).

The spec is data handed to the engine and back to the launcher unchanged; it holds no
credentials (those come from the worker's environment) and is never turned into code.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ..plan.model import InputRule, Plan, StepTask, Tail
from ..plan.steps import INTERNAL_DECORATOR

SPEC_VERSION = 1


@dataclass(frozen=True)
class DeployOptions:
    """What the deploying command decided, beyond the plan itself."""

    engine: str  # run id prefix and reporter format: "kestra", "windmill", "local"
    flow_file: str  # the flow file as the worker sees it
    python: Optional[str] = None  # worker interpreter; default: the one running the launcher
    metadata: Optional[str] = None
    datastore: Optional[str] = None
    datastore_root: Optional[str] = None
    environment: str = "local"
    event_logger: Optional[str] = None
    monitor: Optional[str] = None
    package_suffixes: Optional[str] = None
    tags: Tuple[str, ...] = ()
    namespace: Optional[str] = None
    branch: Optional[str] = None
    production: bool = False
    owner: Optional[str] = None
    production_token: Optional[str] = None
    env: Tuple[Tuple[str, str], ...] = ()  # extra variables for every task
    reporter: Optional[str] = None  # defaults to the engine name
    extra: Dict[str, Any] = field(default_factory=dict)


def top_level_options(plan: Plan, deploy: DeployOptions, decospecs=()) -> List[str]:
    """Options before the subcommand, as Argo/SFN build them (``--with`` first)."""
    opts = ["--with=%s" % spec for spec in decospecs]
    if plan.project is not None:
        if deploy.branch:
            opts.append("--branch=%s" % deploy.branch)
        if deploy.production:
            opts.append("--production")
    opts += ["--quiet", "--no-pylint", "--environment=%s" % deploy.environment]
    for name in ("metadata", "datastore", "datastore_root", "event_logger", "monitor", "package_suffixes"):
        value = getattr(deploy, name)
        if value:
            opts.append("--%s=%s" % (name.replace("_", "-"), value))
    return opts


def _common(plan: Plan, deploy: DeployOptions) -> Dict[str, Any]:
    env = dict(deploy.env)
    if deploy.owner:
        env.setdefault("METAFLOW_OWNER", deploy.owner)
        env.setdefault("METAFLOW_USER", deploy.owner)
        env.setdefault("USERNAME", deploy.owner)
    if deploy.production_token:
        env["METAFLOW_PRODUCTION_TOKEN"] = deploy.production_token
    return {
        "v": SPEC_VERSION,
        "engine": deploy.engine,
        "reporter": deploy.reporter or deploy.engine,
        "flow": deploy.flow_file,
        "flow_name": plan.flow_name,
        "python": deploy.python,
        "tags": list(deploy.tags),
        "namespace": deploy.namespace,
        "env": env,
        "configs": {name: json.loads(value) for name, value in plan.configs} or None,
    }


def init_spec(plan: Plan, deploy: DeployOptions) -> Dict[str, Any]:
    spec = _common(plan, deploy)
    spec.update(
        kind="init",
        top=top_level_options(plan, deploy),
        params={p.name: p.type.value for p in plan.parameters},
        events=[dict(t.parameters) for t in plan.event_triggers],
    )
    return spec


def step_spec(plan: Plan, task: StepTask, deploy: DeployOptions) -> Dict[str, Any]:
    spec = _common(plan, deploy)
    spec["env"] = {**spec["env"], **dict(task.environment)}
    spec.update(
        kind="step",
        step=task.name,
        top=top_level_options(plan, deploy, task.decospecs),
        internal="%s:reporter=%s" % (INTERNAL_DECORATOR, spec["reporter"]),
        inputs=rule_to_dict(task.inputs),
        recursive=task.recursive,
        max_user_code_retries=task.retry.user_code_retries,
    )
    return spec


def rule_to_dict(rule: InputRule) -> Dict[str, Any]:
    return {"kind": rule.kind, "tails": [tail_to_dict(t) for t in rule.tails]}


def tail_to_dict(tail: Optional[Tail]) -> Optional[Dict[str, Any]]:
    if tail is None:
        return None
    out: Dict[str, Any] = {"step": tail.step}
    if tail.recursive:
        out["recursive"] = True
    if tail.switch:
        out["cases"] = {target: tail_to_dict(t) for target, t in tail.cases}
    return out


def encode(spec: Dict[str, Any]) -> str:
    """Base64 of compact JSON: survives any engine templating and shell unchanged."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
