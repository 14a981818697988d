"""Plan -> Kestra flow (a dict), for Kestra 1.x (ForEach) and 2.x (Loop).

A small recursive function over the plan tree: a step becomes one shell task running
the task entry; a split a ``Parallel`` of ``Sequential`` branches; a foreach a
``ForEach``/``Loop`` over the full index paths its head reported; a switch a ``Switch``
on the branch its head reported. Every dynamic value reaches the task through ``env``
as a fixed Pebble expression over engine variables (never a user value): the launcher
turns those scalars into the ``metaflow step`` command.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import yaml

from ..plan import Capabilities, Foreach, Plan, PlanError, Split, StepTask, Switch, Tail, require_supported
from ..plan.model import Sequence
from ..runtime.spec import DeployOptions, encode, init_spec, step_spec
from . import profiles
from .naming import check_task_id, flow_id

CAPABILITIES = Capabilities(engine="Kestra", recursive_switch=False)
ENTRY = "metaflow_extensions.orchestrators.plugins.runtime.entry"
# Static shell text: the interpreter comes from the env map, never spliced in.
COMMAND = 'exec "$MFO_PYTHON" -m %s' % ENTRY
INIT_TASK = "metaflow-init"
EVENT_INPUT = "metaflow_event"


@dataclass(frozen=True)
class KestraTarget:
    """Where and how the flow is deployed (everything beyond the plan and the spec)."""

    namespace: str
    flow_id: str
    version: int = 2
    max_workers: int = 16
    workflow_timeout: Optional[int] = None  # seconds, -> sla MAX_DURATION
    python: str = "python3"  # the worker's interpreter
    webhook_secret: Optional[str] = None  # keys event webhooks (HMAC); else a plain hash
    labels: Tuple[Tuple[str, str], ...] = ()


@dataclass
class _Context:
    plan: Plan
    deploy: DeployOptions
    target: KestraTarget
    profile: profiles.Profile = field(init=False)

    def __post_init__(self):
        self.profile = profiles.for_version(self.target.version)


def compile_flow(plan: Plan, deploy: DeployOptions, target: KestraTarget) -> Dict[str, Any]:
    """The Kestra flow document for ``plan`` as plain data."""
    require_supported(plan, CAPABILITIES)
    for task in plan.steps():
        check_task_id(task.name)
    ctx = _Context(plan, deploy, target)
    doc: Dict[str, Any] = {"id": target.flow_id, "namespace": target.namespace}
    if plan.doc:
        doc["description"] = plan.doc
    doc["labels"] = dict(target.labels)
    inputs = flow_inputs(plan, ctx.profile)
    if inputs:
        doc["inputs"] = inputs
    doc["tasks"] = [init_task(ctx, bool(inputs))] + sequence_tasks(ctx, plan.root, 0)
    triggers = flow_triggers(ctx)
    if triggers:
        doc["triggers"] = triggers
    if target.workflow_timeout:
        # There is no flow-level `timeout` in Kestra; MAX_DURATION is the time limit (kestra.md §8.3).
        doc["sla"] = [{"id": "workflow-timeout", "type": "MAX_DURATION", "behavior": "FAIL",
                       "duration": iso_seconds(target.workflow_timeout)}]
    return doc


def dump(doc: Dict[str, Any]) -> str:
    """YAML text; key order as built, so compiling twice gives the same text."""
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)


# --- inputs and the init task ----------------------------------------------------------


def flow_inputs(plan: Plan, profile: "profiles.Profile") -> List[Dict[str, Any]]:
    out = [profile.input(p) for p in plan.parameters]
    if plan.event_triggers:
        out.append({"id": EVENT_INPUT, "type": "JSON", "required": False,
                    "description": "Internal: the payload of the event that started this run "
                                   "(filled by the event webhook; leave empty)."})
    return out


def init_task(ctx: _Context, has_inputs: bool) -> Dict[str, Any]:
    spec = init_spec(ctx.plan, ctx.deploy)
    spec["internal_inputs"] = [EVENT_INPUT]  # in `{{ inputs }}` but not a flow parameter
    env = base_env(ctx, encode(spec))
    if has_inputs:
        # The whole inputs map renders as JSON; the launcher passes each as --<name>.
        env["MFO_PARAMS"] = "{{ inputs }}"
        if ctx.plan.event_triggers:
            env["MFO_EVENT"] = "{{ inputs.%s ?? '' }}" % EVENT_INPUT
    return script_task(INIT_TASK, env, description="Metaflow init: registers the run and its parameters.")


def base_env(ctx: _Context, spec: str) -> Dict[str, str]:
    return {
        "MFO_PYTHON": ctx.target.python,
        "MFO_SPEC": spec,
        "MFO_EXECUTION_ID": "{{ execution.id }}",
        "MFO_ATTEMPT": "{{ taskrun.attemptsCount }}",
    }


def script_task(task_id: str, env: Dict[str, str], description: Optional[str] = None) -> Dict[str, Any]:
    task: Dict[str, Any] = {"id": task_id, "type": "io.kestra.plugin.scripts.shell.Commands"}
    if description:
        task["description"] = description
    # Kestra's default task runner is Docker; the worker runs Metaflow itself.
    task["taskRunner"] = {"type": "io.kestra.plugin.core.runner.Process"}
    task["env"] = env
    task["commands"] = [COMMAND]
    return task


# --- the tree (``depth``: how many foreach levels enclose the tasks) --------------------


def sequence_tasks(ctx: _Context, seq: Sequence, depth: int) -> List[Dict[str, Any]]:
    tasks: List[Dict[str, Any]] = []
    joined: Optional[Foreach] = None  # the foreach whose join is the next block
    for block in seq:
        tasks += block_tasks(ctx, block, depth, joined)
        joined = block if isinstance(block, Foreach) else None
    return tasks


def block_tasks(ctx: _Context, block, depth: int, joined: Optional[Foreach]) -> List[Dict[str, Any]]:
    if isinstance(block, StepTask):
        return [step_task(ctx, block, depth, joined)]
    head = step_task(ctx, block.head, depth, joined)
    if isinstance(block, Split):
        return [head, split_task(ctx, block, depth)]
    if isinstance(block, Foreach):
        return [head, foreach_task(ctx, block, depth)]
    return [head] + switch_tasks(ctx, block, depth)


def split_task(ctx: _Context, block: Split, depth: int) -> Dict[str, Any]:
    # Parallel starts all children at once; one Sequential per branch keeps its steps in order.
    branches = [{"id": "mf-branch-%s-%s" % (block.head.name, _first_step(b)),
                 "type": "io.kestra.plugin.core.flow.Sequential",
                 "tasks": sequence_tasks(ctx, b, depth)} for b in block.branches]
    return {"id": "mf-split-%s" % block.head.name, "type": "io.kestra.plugin.core.flow.Parallel", "tasks": branches}


def foreach_task(ctx: _Context, block: Foreach, depth: int) -> Dict[str, Any]:
    values = "{{ %s.vars.foreach_indices }}" % ctx.profile.same_scope(block.head.name, depth)
    task = ctx.profile.foreach(foreach_id(block), values, max(int(ctx.target.max_workers), 0))
    task["tasks"] = sequence_tasks(ctx, block.body, depth + 1)
    if ctx.profile.isolated_iterations:
        heads = switch_heads_at_scope(block.body)
        if heads:
            # Iteration outputs are invisible after a Loop unless declared (kestra.md §6.2).
            task["outputs"] = [{"id": "branches", "type": "JSON",
                                "value": "{{ [%s] }}" % ", ".join(ctx.profile.branches_of(h, depth + 1, False)
                                                                  for h in heads)}]
    return task


def switch_tasks(ctx: _Context, block: Switch, depth: int) -> List[Dict[str, Any]]:
    """A Switch over the cases that have steps; cases that go straight to the merge need
    no task (and Kestra refuses an empty case)."""
    cases = {c.target: sequence_tasks(ctx, c.body, depth) for c in block.cases if len(c.body)}
    if not cases:
        return []
    return [{
        "id": "mf-switch-%s" % block.head.name,
        "type": "io.kestra.plugin.core.flow.Switch",
        "value": "{{ %s.vars.branch }}" % ctx.profile.same_scope(block.head.name, depth),
        "cases": cases,
    }]


def foreach_id(block: Foreach) -> str:
    return "mf-foreach-%s" % block.head.name


def _first_step(seq: Sequence) -> str:
    first = seq.blocks[0]
    return first.name if isinstance(first, StepTask) else first.head.name


# --- one step ---------------------------------------------------------------------------


def step_task(ctx: _Context, task: StepTask, depth: int, joined: Optional[Foreach]) -> Dict[str, Any]:
    profile = ctx.profile
    env = base_env(ctx, encode(step_spec(ctx.plan, task, ctx.deploy)))
    if depth:
        env["MFO_INDEX_PATH"] = profile.index_path
    if task.inputs.kind == "foreach-join":
        if joined is None:
            raise PlanError("internal: a foreach join without its foreach", task.name)
        env["MFO_WIDTH"] = "{{ %s.vars.foreach_width }}" % profile.same_scope(joined.head.name, depth)
    branches = branch_expressions(ctx, task, depth, joined)
    if branches:
        env["MFO_BRANCHES"] = "{{ [%s] }}" % ", ".join(branches)
    out = script_task(task.name, env, description=step_description(task))
    if task.retry.total_retries:
        out["retry"] = {"type": "constant", "interval": iso_seconds(int(task.retry.minutes_between * 60)),
                        profile.max_attempts_key: task.retry.total_attempts}
    if task.timeout_seconds:
        # Metaflow enforces @timeout in the step itself; Kestra's per-attempt timeout is the backstop.
        out["timeout"] = iso_seconds(task.timeout_seconds + 60)
    return out


def step_description(task: StepTask) -> str:
    lines = ["Metaflow step %s" % task.name]
    if task.doc:
        lines.append(task.doc.strip())
    if task.resources:
        res = ", ".join("%s=%s" % (k, v) for k, v in vars(task.resources).items() if v is not None)
        if res:
            lines.append("@resources: %s" % res)
    if task.retry.total_retries:
        lines.append("attempts: %d" % task.retry.total_attempts)
    return "\n\n".join(lines)


def branch_expressions(ctx: _Context, task: StepTask, depth: int, joined: Optional[Foreach]) -> List[str]:
    """Expressions for the branch facts this task's ``--input-paths`` depend on: the switch
    steps on its input tails (at its own scope, or inside the foreach it joins)."""
    heads: List[Tuple[str, bool]] = []  # (switch step, surely ran)
    for tail in task.inputs.tails:
        heads += _tail_heads(tail, True)
    if not heads:
        return []
    profile = ctx.profile
    if task.inputs.kind == "foreach-join" and joined is not None:
        if profile.isolated_iterations:
            return ["%s.outputs" % profile.ref(foreach_id(joined))]
        # Every iteration's reports, not just this one's: the join reads them all.
        return [profile.branches_of(head, depth + 1, False) for head, _ in heads]
    return [profile.branches_of(head, depth, sure) for head, sure in heads]


def _tail_heads(tail: Optional[Tail], sure: bool) -> List[Tuple[str, bool]]:
    if tail is None or not tail.switch:
        return []
    heads = [(tail.step, sure)]
    for _, case_tail in tail.cases:
        heads += _tail_heads(case_tail, False)
    return heads


def switch_heads_at_scope(body: Sequence) -> List[str]:
    """Switch steps in a foreach body outside any nested foreach (the join's tails)."""
    heads: List[str] = []
    for block in body:
        if isinstance(block, Switch):
            heads.append(block.head.name)
            for case in block.cases:
                heads += switch_heads_at_scope(case.body)
        elif isinstance(block, Split):
            for branch in block.branches:
                heads += switch_heads_at_scope(branch)
    return heads


# --- triggers ---------------------------------------------------------------------------


def flow_triggers(ctx: _Context) -> List[Dict[str, Any]]:
    plan, target, profile = ctx.plan, ctx.target, ctx.profile
    triggers: List[Dict[str, Any]] = []
    if plan.schedule is not None:
        _require_trigger_inputs(plan, profile, "@schedule")
        trig = {"id": "schedule", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": plan.schedule.cron}
        if plan.schedule.timezone:
            trig["timezone"] = plan.schedule.timezone
        triggers.append(trig)
    for i, event in enumerate(plan.event_triggers):
        _require_trigger_inputs(plan, profile, "@trigger")
        triggers.append({
            "id": "event-%d" % i,
            "type": "io.kestra.plugin.core.trigger.Webhook",
            "key": webhook_key(target, event.name),
            "inputs": {EVENT_INPUT: "{{ trigger.body }}"},
        })
    if plan.flow_triggers:
        upstream = [(target.namespace, flow_id(t.deployed_name)) for t in plan.flow_triggers]
        triggers.append(profile.flow_trigger("on-finish", upstream))
    return triggers


def _require_trigger_inputs(plan: Plan, profile, what: str) -> None:
    missing = [p.name for p in plan.parameters if p.required and p.default is None]
    if missing and profile.version >= 2:
        raise PlanError("%s needs a value for every required parameter, but %s has no default; "
                        "Kestra 2.x rejects such a trigger" % (what, ", ".join(missing)))


def webhook_key(target: KestraTarget, event: str) -> str:
    """Stable across compiles (same text twice); keyed with the webhook secret when set."""
    message = ("%s/%s/%s" % (target.namespace, target.flow_id, event)).encode("utf-8")
    if target.webhook_secret:
        digest = hmac.new(target.webhook_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(message).hexdigest()
    return "mf-" + digest[:40]


def iso_seconds(seconds: int) -> str:
    return "PT%dS" % max(int(seconds), 0)

