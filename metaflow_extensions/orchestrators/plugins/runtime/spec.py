"""Plan + deploy options -> the static facts a task needs (a plain JSON-able dict).

The spec is data handed to the engine and back to the launcher unchanged; it holds no
credentials (those come from the worker's environment) and is never turned into code.
"""
from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ..plan.errors import PlanError
from ..plan.model import InputRule, NodeKind, Plan, StepTask, Tail
from ..plan.steps import INTERNAL_DECORATOR
from .launcher import assemble

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
    code_package: Optional[Any] = None  # code_package.CodePackage: tasks run the flow from it
    # Local metadata with another datastore: where the metadata lives (its sysroot), which a
    # worker's environment may not say (Windmill clears it).
    metadata_sysroot: Optional[str] = None
    # (step, environment id) of the @conda/@pypi steps: each task builds its step's environment
    # from the code package and runs the step in it (runtime/environments.py).
    environments: Tuple[Tuple[str, str], ...] = ()
    extra: Dict[str, Any] = field(default_factory=dict)

    def local_sysroot(self) -> Optional[str]:
        """A local datastore's sysroot (the parent of its ``.metaflow``), which a worker must
        see at the same path; None for other datastores."""
        if self.datastore == "local" and self.datastore_root:
            return os.path.dirname(self.datastore_root.rstrip("/"))
        return None

    def environment_of(self, step: str) -> Optional[str]:
        """The @conda/@pypi environment id the step runs in, if any."""
        return dict(self.environments).get(step)


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


# A spec is two parts: what every task of the flow shares (``flow_part``) and what one
# task adds (``init_part`` / ``step_part``). Engines that can hold the shared part once
# (Kestra's flow ``variables``) store the parts apart and readable; ``assemble`` joins
# them in the task, exactly as ``init_spec``/``step_spec`` build the whole.


def flow_part(plan: Plan, deploy: DeployOptions) -> Dict[str, Any]:
    """The facts every task of this deployment shares."""
    env = dict(deploy.env)
    if deploy.owner:
        env.setdefault("METAFLOW_OWNER", deploy.owner)
        env.setdefault("METAFLOW_USER", deploy.owner)
        env.setdefault("USERNAME", deploy.owner)
    if deploy.production_token:
        env["METAFLOW_PRODUCTION_TOKEN"] = deploy.production_token
    package = deploy.code_package
    if package is not None:
        env.update(package.task_env())
    if deploy.metadata_sysroot:
        env.setdefault("METAFLOW_DATASTORE_SYSROOT_LOCAL", deploy.metadata_sysroot)
    return _without_defaults({
        "v": SPEC_VERSION,
        "engine": deploy.engine,
        "reporter": deploy.reporter or deploy.engine,
        # With a code package, the flow file as unpacked in the task's directory.
        "flow": package.flow if package is not None else deploy.flow_file,
        "flow_name": plan.flow_name,
        "python": deploy.python,
        "top": top_level_options(plan, deploy),
        "tags": list(deploy.tags),
        "namespace": deploy.namespace,
        "env": env,
        # As JSON text: a config's nulls survive any JSON round trip of the spec.
        "configs": dict(plan.configs) or None,
    })


def init_part(plan: Plan) -> Dict[str, Any]:
    """What the init task (``metaflow init``: the run and its parameters) adds."""
    return _without_defaults({
        "kind": "init",
        "params": {p.name: p.type.value for p in plan.parameters},
        "events": [dict(t.parameters) for t in plan.event_triggers],
    })


def step_part(plan: Plan, task: StepTask, deploy: DeployOptions) -> Dict[str, Any]:
    """What one step's tasks add: the step, how its input paths are found, retries."""
    return _without_defaults({
        "kind": "step",
        "step": task.name,
        # What the step decides for the engine (a task of a resumed run reads it from a clone).
        "node": task.kind.value if task.kind in (NodeKind.FOREACH, NodeKind.SWITCH) else None,
        "with": list(task.decospecs),
        "internal": "%s:reporter=%s" % (INTERNAL_DECORATOR, deploy.reporter or deploy.engine),
        "inputs": rule_to_dict(task.inputs),
        "recursive": task.recursive,
        "max_user_code_retries": task.retry.user_code_retries,
        "attempts": task.retry.total_attempts if task.retry.total_attempts > 1 else None,
        "env": dict(task.environment),
        "conda_env": deploy.environment_of(task.name),
    })


def _without_defaults(part: Dict[str, Any]) -> Dict[str, Any]:
    """Drop what the launcher assumes when absent (None, False, 0, empty), so the
    parts read short where an engine shows them."""
    return {k: v for k, v in part.items() if v not in (None, False, 0, [], {}) or k == "kind"}


def init_spec(plan: Plan, deploy: DeployOptions) -> Dict[str, Any]:
    return assemble(flow_part(plan, deploy), init_part(plan))


def step_spec(plan: Plan, task: StepTask, deploy: DeployOptions) -> Dict[str, Any]:
    return assemble(flow_part(plan, deploy), step_part(plan, task, deploy))


def rule_to_dict(rule: InputRule) -> Dict[str, Any]:
    return {"kind": rule.kind, "tails": [tail_to_dict(t) for t in rule.tails]}


def tail_to_dict(tail: Optional[Tail]) -> Optional[Dict[str, Any]]:
    if tail is None:
        return None
    out: Dict[str, Any] = {"step": tail.step}
    if tail.recursive:
        out["recursive"] = True
    if tail.switch:
        # Every exit by name, and the tails of those that have steps: a case that goes
        # straight on has no entry (never a null, which JSON tooling may drop: Kestra's
        # JacksonMapper writes maps with NON_NULL content).
        out["exits"] = [target for target, _ in tail.cases]
        out["cases"] = {target: tail_to_dict(t) for target, t in tail.cases if t is not None}
    return out


def encode(spec: Dict[str, Any]) -> str:
    """Base64 of compact JSON: survives any engine templating and shell unchanged (for
    engines that pass a spec per task; Kestra keeps it readable in flow variables)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# MAX_ARG_STRLEN: one process argument or environment string (Linux). Each part of a spec
# reaches its task as one of those (Kestra: an environment value; Windmill: an argument).
TASK_VALUE_LIMIT = 128 * 1024


def check_task_value(what: str, value: Any, base64: bool = False) -> None:
    """Refuse at compile, with one line, a spec part no task could receive."""
    size = len(json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    if base64:
        size = (size + 2) // 3 * 4
    if size > TASK_VALUE_LIMIT - 4096:
        raise PlanError("%s takes %d KiB; a task receives it as one process argument or environment value, "
                        "which Linux limits to 128 KiB: shorten the tags, configs, @environment values or "
                        "parameter defaults" % (what, size // 1024))
