"""Plan -> Kestra flow (a dict), for Kestra 1.x (ForEach) and 2.x (Loop).

A small recursive function over the plan tree: a step becomes one shell task running
the task entry for that step; a split a ``Parallel`` of ``Sequential`` branches; a
foreach a ``ForEach``/``Loop`` over the full index paths its head reported; a switch a
``Switch`` on the branch its head reported, with a case for every branch; a recursive
switch a ``LoopUntil`` around its step.

What a task runs is readable in the flow: the deployment's settings and each step's
facts are plain data in the flow's ``variables`` (``vars.metaflow``), each task names
its step on its command line and shows its retries/timeout as Kestra properties. Every
dynamic value reaches a task through ``env`` as one of a fixed set of Pebble expressions
over engine variables; anything that may hold user text (variables, inputs) is rendered
through ``toJson | base64encode``, so no ``{{`` survives for Kestra's second render of
``env`` (1.3: ``AbstractExecScript`` then ``TaskRunner.env``).
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import yaml

from ..plan import Capabilities, Foreach, Plan, PlanError, Split, StepTask, Switch, require_supported
from ..plan.model import Sequence
from ..plan.visit import BlockVisitor
from ..plan.queries import (first_step, input_switch_heads, recursive_input_heads, require_defaults,
                            switch_heads_at_scope)
from ..code_package import bootstrap_lines
from ..runtime.resume import LABEL_ORIGIN
from ..runtime.spec import DeployOptions, check_task_value, flow_part, init_part, step_part
from . import profiles
from .naming import check_task_id, flow_id

CAPABILITIES = Capabilities(engine="Kestra", recursive_switch=True)
ENTRY = "metaflow_extensions.orchestrators.plugins.runtime.entry"
# Static shell text: the interpreter comes from the env map, never spliced in; the step
# name is a checked identifier (check_task_id).
COMMAND = 'exec "$MFO_PYTHON" -m %s' % ENTRY
EVENT_INPUT = "metaflow_event"
VARS = "metaflow"  # the flow variable holding the deployment's settings and steps
_PEBBLE_MARKERS = ("{{", "{%", "{#")
# A recursive switch step may loop this many times on Kestra (LoopUntil maxIterations).
MAX_LOOP_ITERATIONS = 1000


PARAMS_FILE = "mfo-params.b64"  # the run's inputs, for the init in the first step's task (inputFiles)
LABEL_WORKFLOW_TIMEOUT = "metaflow-workflow-timeout"  # set by Kestra when the run exceeds --workflow-timeout

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
    # event name -> webhook key chosen at deploy (random, kept across re-deploys); wins over the above
    webhook_keys: Tuple[Tuple[str, str], ...] = ()
    task_runner: str = "process"  # or "docker": every task in a container of `image`
    image: Optional[str] = None


@dataclass
class _Context:
    plan: Plan
    deploy: DeployOptions
    target: KestraTarget
    profile: profiles.Profile = field(init=False)
    runner: Dict[str, Any] = field(init=False, default_factory=dict)  # a task's taskRunner (and image)
    inputs: List[Dict[str, Any]] = field(init=False)  # the flow's inputs (parameters, an event's payload)
    start: str = field(init=False)  # the first step: its task also starts the run

    def __post_init__(self):
        self.profile = profiles.for_version(self.target.version)
        self.inputs = flow_inputs(self.plan, self.profile)
        self.start = first_step(self.plan.root)


@dataclass(frozen=True)
class Where:
    """Where a task sits: how many foreach levels enclose it, and the kinds of the
    flowable tasks around it (outermost first), which decide how Kestra lets it read
    its foreach value and its siblings' outputs (see ``profiles``)."""

    depth: int = 0
    around: Tuple[str, ...] = ()

    def inside(self, kind: str) -> "Where":
        return Where(self.depth + (kind == profiles.FOREACH), self.around + (kind,))


def compile_flow(plan: Plan, deploy: DeployOptions, target: KestraTarget) -> Dict[str, Any]:
    """The Kestra flow document for ``plan`` as plain data."""
    require_supported(plan, CAPABILITIES)
    for task in plan.steps():
        check_task_id(task.name)
    _check_plain("--worker-python", target.python)
    ctx = _Context(plan, deploy, target)
    ctx.runner = task_runner(ctx)
    doc: Dict[str, Any] = {"id": target.flow_id, "namespace": target.namespace}
    if plan.doc:
        doc["description"] = plan.doc
    doc["labels"] = dict(target.labels)
    if ctx.inputs:
        doc["inputs"] = ctx.inputs
    doc["variables"] = {VARS: flow_variables(ctx)}
    doc["tasks"] = sequence_tasks(ctx, plan.root, Where())
    triggers = flow_triggers(ctx)
    if triggers:
        doc["triggers"] = triggers
    if target.workflow_timeout:
        # There is no flow-level `timeout` in Kestra; MAX_DURATION is the time limit (kestra.md §8.3).
        # Its label says why the execution failed (SLA.labels, added on violation: core/.../flows/sla/SLA.java@v1.3.25).
        doc["sla"] = [{"id": "workflow-timeout", "type": "MAX_DURATION", "behavior": "FAIL",
                       "duration": iso_seconds(target.workflow_timeout),
                       "labels": {LABEL_WORKFLOW_TIMEOUT: "%ds" % int(target.workflow_timeout)}}]
    return doc


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """LibYAML's emitter when PyYAML has it (the same text, 4-6x faster on a large flow; the
    representers stay Python). YAML line breaks beyond \\n (NEL U+0085, LS U+2028, PS U+2029) would be folded into
    spaces by any YAML reader in a plain or single-quoted scalar: such strings are written
    double-quoted, where PyYAML escapes them (``\\N``, ``\\L``, ``\\P``) and they round-trip.
    No anchors and aliases for values that repeat: every task reads whole in the Kestra UI."""

    def ignore_aliases(self, data) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(ch in value for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(doc: Dict[str, Any]) -> str:
    """YAML text; key order as built, so compiling twice gives the same text."""
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)


def _check_plain(option: str, value: str) -> None:
    if any(marker in value for marker in _PEBBLE_MARKERS):
        raise PlanError("%s must not contain Pebble delimiters ({{, {%%, {#): Kestra would evaluate them" % option)


# --- the flow's variables: what every task runs, readable --------------------------------


def flow_variables(ctx: _Context) -> Dict[str, Any]:
    """``vars.metaflow``: the deployment's settings (``flow``), the init task's facts
    (``init``) and each step's (``steps.<name>``), as plain data. Kestra does not render
    variable values when they are read (no recursive rendering by default), and tasks
    only read them through ``toJson | base64encode``."""
    init = init_part(ctx.plan)
    if ctx.plan.event_triggers:
        init["internal_inputs"] = [EVENT_INPUT]  # in `inputs` but not a flow parameter
        init["event_input"] = EVENT_INPUT
    steps = {}
    for task in ctx.plan.steps():
        part = step_part(ctx.plan, task, ctx.deploy)
        hidden = {k: v for k, v in part.pop("env", {}).items() if not _plain(v)}
        if hidden:
            part["env"] = hidden
        steps[task.name] = part
        check_task_value("the spec of step %s" % task.name, part, base64=True)
    flow = flow_part(ctx.plan, ctx.deploy)
    check_task_value("the deployment's settings", flow, base64=True)
    check_task_value("the init task's spec", init, base64=True)
    return {"flow": flow, "init": init, "steps": steps}


def _plain(value: str) -> bool:
    """Text that any number of Pebble renders leave unchanged."""
    return not any(marker in value for marker in _PEBBLE_MARKERS)


def _encoded(expression: str) -> str:
    return "{{ %s | toJson | base64encode }}" % expression


# --- inputs and the run's init ----------------------------------------------------------


def flow_inputs(plan: Plan, profile: "profiles.Profile") -> List[Dict[str, Any]]:
    out = [profile.input(p) for p in plan.parameters]
    if plan.event_triggers:
        out.append({"id": EVENT_INPUT, "type": "JSON", "required": False,
                    "description": "Internal: the payload of the event that started this run "
                                   "(filled by the event webhook; leave empty)."})
    return out


def add_init(ctx: _Context, task: Dict[str, Any]) -> None:
    """The first step's task also starts the run (``metaflow init``: the run
    ``kestra-<execution id>`` and its parameters, or a resume's clone), in its own process
    before the step: a task of its own would start an interpreter and import Metaflow
    again (~0.3 s a run). Its outputs then also hold the run's execution id and run id."""
    env = task["env"]
    env["MFO_INIT"] = _encoded("vars.%s.init" % VARS)
    # A resume starts the run with labels naming the run it resumes (runtime/resume.py);
    # execution labels include the flow's, so `labels` is always defined
    # (Execution.newExecution, RunVariables@v1.3.25).
    env["MFO_RESUME"] = "{{ labels | toJson }}"
    if ctx.inputs:
        # The whole inputs map, encoded on render, in a file of the task's directory (an
        # environment value is limited to 128 KiB); the launcher passes each as --<name>.
        env["MFO_PARAMS"] = "@" + PARAMS_FILE
        task["inputFiles"] = {PARAMS_FILE: _encoded("inputs")}


def base_env(ctx: _Context, part: str, execution_id: str) -> Dict[str, str]:
    env = {
        "MFO_PYTHON": ctx.target.python,
        "MFO_FLOW": _encoded("vars.%s.flow" % VARS),
        "MFO_STEP": _encoded("vars.%s.%s" % (VARS, part)),
        "MFO_EXECUTION_ID": execution_id,
        "MFO_ATTEMPT": "{{ taskrun.attemptsCount }}",
    }
    package = ctx.deploy.code_package
    if package is not None:
        for name, value in package.variables().items():
            _check_plain("the code package's address (%s)" % name, value)
            env[name] = value
    return env


SHELL_TASK = "io.kestra.plugin.scripts.shell.Commands"
PROCESS_RUNNER = "io.kestra.plugin.core.runner.Process"
DOCKER_RUNNER = "io.kestra.plugin.scripts.runner.docker.Docker"


def task_runner(ctx: _Context) -> Dict[str, Any]:
    """Where tasks run. Process (the default): on the Kestra worker itself (Kestra's own default
    runner is Docker). Docker: in a container of ``--image``, which needs only Python with
    Metaflow's runtime dependencies, since the flow arrives as its code package; a local
    datastore (and local metadata) is mounted at the same path (``volumes``, which Kestra's
    Docker plugin allows with its ``volume-enabled`` setting: runner/docker/Docker.java@v1.3.25)."""
    target = ctx.target
    if target.task_runner == "process":
        return {"taskRunner": {"type": PROCESS_RUNNER}}
    if not target.image:
        raise PlanError("--task-runner docker needs --image: an image with Python 3 and Metaflow's runtime "
                        "dependencies (requests; boto3 for S3)")
    if ctx.deploy.code_package is None:
        raise PlanError("--task-runner docker needs the code package (drop --no-code-package): a container does "
                        "not see the flow file on this machine")
    _check_plain("--image", target.image)
    runner: Dict[str, Any] = {"type": DOCKER_RUNNER}
    shared = sorted(p for p in (ctx.deploy.local_sysroot(), ctx.deploy.metadata_sysroot) if p)
    if shared:
        for path in shared:
            _check_plain("the local datastore's path", path)
        runner["volumes"] = ["%s:%s" % (path, path) for path in shared]
    return {"taskRunner": runner, "containerImage": target.image}


def script_task(ctx: _Context, task_id: str, env: Dict[str, str], argument: str,
                description: Optional[str] = None) -> Dict[str, Any]:
    task: Dict[str, Any] = {"id": task_id, "type": SHELL_TASK}
    if description:
        task["description"] = description
    task.update(copy.deepcopy(ctx.runner))
    task["env"] = env
    # A Docker task starts in a fresh container: no later task reuses what it unpacks.
    fetch = (bootstrap_lines(compile_bytecode=ctx.target.task_runner == "process")
             if ctx.deploy.code_package is not None else [])
    task["commands"] = fetch + ["%s %s" % (COMMAND, argument)]
    return task


# --- the tree ---------------------------------------------------------------------------


def sequence_tasks(ctx: _Context, seq: Sequence, where: Where) -> List[Dict[str, Any]]:
    tasks: List[Dict[str, Any]] = []
    joined: Optional[Foreach] = None  # the foreach whose join is the next block
    for block in seq:
        tasks += block_tasks(ctx, block, where, joined)
        joined = block if isinstance(block, Foreach) else None
    return tasks


def block_tasks(ctx: _Context, block, where: Where, joined: Optional[Foreach]) -> List[Dict[str, Any]]:
    return _Blocks(ctx, where, joined).visit(block)


class _Blocks(BlockVisitor[List[Dict[str, Any]]]):
    """A block's tasks: its head step, then the flowable task holding what it starts."""

    def __init__(self, ctx: _Context, where: Where, joined: Optional[Foreach]):
        self.ctx, self.where, self.joined = ctx, where, joined

    def head(self, block) -> Dict[str, Any]:
        return step_task(self.ctx, block.head, self.where, self.joined)

    def step(self, block: StepTask) -> List[Dict[str, Any]]:
        return [step_task(self.ctx, block, self.where, self.joined)]

    def split(self, block: Split) -> List[Dict[str, Any]]:
        return [self.head(block), split_task(self.ctx, block, self.where)]

    def foreach(self, block: Foreach) -> List[Dict[str, Any]]:
        return [self.head(block), foreach_task(self.ctx, block, self.where)]

    def switch(self, block: Switch) -> List[Dict[str, Any]]:
        if block.head.recursive:
            first = loop_task(self.ctx, block, self.where, self.joined)
        else:
            first = self.head(block)
        return [first] + switch_tasks(self.ctx, block, self.where)


def split_task(ctx: _Context, block: Split, where: Where) -> Dict[str, Any]:
    # Parallel starts all children at once; one Sequential per branch keeps its steps in order.
    inner = where.inside(profiles.PARALLEL).inside(profiles.SEQUENTIAL)
    branches = [{"id": "mf-branch-%s-%s" % (block.head.name, first_step(b)),
                 "type": "io.kestra.plugin.core.flow.Sequential",
                 "tasks": sequence_tasks(ctx, b, inner)} for b in block.branches]
    task = {"id": "mf-split-%s" % block.head.name, "type": "io.kestra.plugin.core.flow.Parallel"}
    task.update(ctx.profile.parallel_options())
    task["tasks"] = branches
    return task


def foreach_task(ctx: _Context, block: Foreach, where: Where) -> Dict[str, Any]:
    profile = ctx.profile
    values = "{{ %s.vars.foreach_indices }}" % profile.same_scope(block.head.name, where.around)
    task = profile.foreach(foreach_id(block), values, max(int(ctx.target.max_workers), 0))
    body = where.inside(profiles.FOREACH)
    task["tasks"] = sequence_tasks(ctx, block.body, body)
    if profile.isolated_iterations:
        # Iteration outputs are invisible after a Loop unless declared (Loop.java@v2.0.0):
        # the join reads the switch reports of every iteration through them.
        declared = []
        for key, heads in (("branches", switch_heads_at_scope(block.body)),
                           ("loops", switch_heads_at_scope(block.body, recursive_only=True))):
            if heads:
                declared.append({"id": key, "type": "JSON", "value": "{{ [%s] }}" % ", ".join(
                    profile.reports_of(h, key, False, body.around) for h in heads)})
        if declared:
            task["outputs"] = declared
    return task


def switch_tasks(ctx: _Context, block: Switch, where: Where) -> List[Dict[str, Any]]:
    """A Switch with a case for every branch the step can take (real Kestra fails a
    Switch whose value matches no case: ``Switch.childTasks`` + ``FlowableUtils.
    resolveState``@v1.3.34): a branch with no steps of its own gets a no-op ``Log``.
    The branch that loops back to a recursive step is its ``LoopUntil``'s business."""
    exits = [c for c in block.cases if not c.loops_back]
    if block.head.recursive and len(exits) == 1 and not len(exits[0].body):
        return []  # the loop ends on its only exit, which goes straight on: nothing to choose
    inner = where.inside(profiles.SWITCH)
    cases = {}
    for case in exits:
        tasks = sequence_tasks(ctx, case.body, inner)
        cases[case.target] = tasks or [noop_task(block, case.target)]
    return [{
        "id": "mf-switch-%s" % block.head.name,
        "type": "io.kestra.plugin.core.flow.Switch",
        "value": "{{ %s.vars.branch }}" % ctx.profile.same_scope(block.head.name, where.around),
        "cases": cases,
    }]


def noop_task(block: Switch, target: str) -> Dict[str, Any]:
    # Step names are checked identifiers: this message holds no user text.
    return {"id": "mf-skip-%s-%s" % (block.head.name, target), "type": "io.kestra.plugin.core.log.Log",
            "message": "%s chose %s, which has no steps before %s" % (block.head.name, target, block.merge)}


def loop_task(ctx: _Context, block: Switch, where: Where, joined: Optional[Foreach]) -> Dict[str, Any]:
    """A recursive switch step (it may choose itself again) as a ``LoopUntil`` around
    the step: the loop ends once the step chose another branch. Each pass is a new task
    of the step (``taskrun.iteration``: ``t-r0``, ``t-r1``, …); the step fails the run
    past ``MAX_LOOP_ITERATIONS`` passes (``failOnMaxReached``)."""
    wrapped = ctx.profile.wrap_loop_until(where.around)
    at = where.inside(profiles.SEQUENTIAL) if wrapped else where
    inner = at.inside(profiles.LOOP_UNTIL)
    step = step_task(ctx, block.head, inner, joined)
    step["env"]["MFO_ITERATION"] = "{{ taskrun.iteration }}"
    head = ctx.profile.same_scope(block.head.name, at.around)
    loop = {
        "id": "mf-loop-%s" % block.head.name,
        "type": "io.kestra.plugin.core.flow.LoopUntil",
        "condition": "{{ %s.vars.branch != '%s' }}" % (head, block.head.name),
        "failOnMaxReached": True,
        # 2.0 requires an interval of at least 1 ms (CheckFrequency@v2.0.0); Kestra checks
        # due delays about once a second anyway.
        "checkFrequency": {"maxIterations": MAX_LOOP_ITERATIONS, "interval": "PT0.001S"},
        "tasks": [step],
    }
    if not wrapped:
        return loop
    return {"id": "mf-pass-%s" % block.head.name, "type": "io.kestra.plugin.core.flow.Sequential",
            "tasks": [loop]}


def foreach_id(block: Foreach) -> str:
    return "mf-foreach-%s" % block.head.name


# --- one step ---------------------------------------------------------------------------


def step_task(ctx: _Context, task: StepTask, where: Where, joined: Optional[Foreach]) -> Dict[str, Any]:
    profile = ctx.profile
    env = base_env(ctx, "steps['%s']" % task.name, profile.execution_id(where.depth, ctx.start))
    if task.name != ctx.start:  # the first step's task knows it from the run it starts
        # Empty unless the run resumes another: then a task the init cloned only reports.
        env["MFO_ORIGIN_RUN"] = '{{ labels["%s"] ?? "" }}' % LABEL_ORIGIN
    if where.depth:
        env["MFO_INDEX_PATH"] = "{{ %s }}" % profile.index_path(where.around)
    if task.inputs.kind == "foreach-join":
        if joined is None:
            raise PlanError("internal: a foreach join without its foreach", task.name)
        env["MFO_WIDTH"] = "{{ %s.vars.foreach_width }}" % profile.same_scope(joined.head.name, where.around)
    branches = branch_expressions(ctx, task, where, joined)
    if branches:
        env["MFO_BRANCHES"] = "{{ [%s] }}" % ", ".join(branches)
    loops = loop_expressions(ctx, task, where, joined)
    if loops:
        env["MFO_LOOPS"] = "{{ [%s] }}" % ", ".join(loops)
    # @environment values that no render can change are shown as plain env; the others
    # travel in vars.metaflow.steps (the launcher sets them inside the task).
    env.update((k, v) for k, v in task.environment if _plain(v))
    out = script_task(ctx, task.name, env, "--step %s" % task.name, description=step_description(ctx, task))
    if task.name == ctx.start:
        add_init(ctx, out)
    if task.retry.total_retries:
        # Kestra 2.0 wants a retry interval of at least 1 ms (retrys/Constant.java@v2.0.0).
        seconds = int(task.retry.minutes_between * 60)
        out["retry"] = {"type": "constant", "interval": iso_seconds(seconds) if seconds > 0 else "PT0.001S",
                        profile.max_attempts_key: task.retry.total_attempts}
    if task.timeout_seconds:
        # Metaflow enforces @timeout in the step itself; Kestra's per-attempt timeout is the backstop.
        out["timeout"] = iso_seconds(task.timeout_seconds + 60)
    return out


def step_description(ctx: _Context, task: StepTask) -> str:
    """What the task runs, for a Kestra user reading the flow (never rendered)."""
    lines = ["Metaflow step `%s`%s" % (task.name, ": " + task.doc.strip() if task.doc else "")]
    flow_file = ctx.deploy.flow_file.rsplit("/", 1)[-1]
    if task.name == ctx.start:
        lines.append("First starts the run: `python %s init --run-id kestra-<execution id>` with the run's inputs "
                     "(a resume: `resume --clone-only`), then the step." % flow_file)
    lines.append("Runs `python %s step %s --run-id kestra-<execution id> --task-id <position> "
                 "--input-paths <parents> --retry-count <attempt>` through the task entry, with the "
                 "options in `vars.%s`." % (flow_file, task.name, VARS))
    if task.resources:
        res = ", ".join("%s=%s" % (k, v) for k, v in vars(task.resources).items() if v is not None)
        if res:
            lines.append("@resources: %s (not enforced by the Process task runner)" % res)
    env_id = ctx.deploy.environment_of(task.name)
    if env_id:
        lines.append("@conda/@pypi: runs in the environment `%s`, which Metaflow's bootstrap builds in the task "
                     "from the packages the deploy cached in the datastore (the worker needs micromamba)" % env_id)
    if task.retry.total_retries:
        lines.append("attempts: %d (@retry%s)" % (task.retry.total_attempts, " + @catch" if task.catch else ""))
    return "\n\n".join(lines)


def branch_expressions(ctx: _Context, task: StepTask, where: Where, joined: Optional[Foreach]) -> List[str]:
    """Expressions for the branch facts this task's ``--input-paths`` depend on: the switch
    steps on its input tails (at its own scope, or inside the foreach it joins)."""
    heads = input_switch_heads(task.inputs.tails)  # (switch step, surely ran)
    return _position_reports(ctx, heads, where, joined, task, "branches")


def loop_expressions(ctx: _Context, task: StepTask, where: Where, joined: Optional[Foreach]) -> List[str]:
    """The final iteration of each recursive switch step on this task's input tails."""
    heads = [(step, True) for step in recursive_input_heads(task.inputs.tails)]
    return _position_reports(ctx, heads, where, joined, task, "loops")


def _position_reports(ctx: _Context, heads: List[Tuple[str, bool]], where: Where, joined: Optional[Foreach],
                      task: StepTask, key: str) -> List[str]:
    if not heads:
        return []
    profile = ctx.profile
    if task.inputs.kind == "foreach-join" and joined is not None:
        if profile.isolated_iterations:
            return ["%s.outputs" % profile.ref(foreach_id(joined))]
        # Every iteration's reports, not just this one's: the join reads them all.
        return [profile.reports_of(head, key, False, where.around) for head, _ in heads]
    return [profile.reports_of(head, key, sure, where.around) for head, sure in heads]


# --- triggers ---------------------------------------------------------------------------


def flow_triggers(ctx: _Context) -> List[Dict[str, Any]]:
    plan, target, profile = ctx.plan, ctx.target, ctx.profile
    triggers: List[Dict[str, Any]] = []
    if plan.schedule is not None:
        require_defaults(plan, "@schedule")
        trig = {"id": "schedule", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": plan.schedule.cron}
        if plan.schedule.timezone:
            trig["timezone"] = plan.schedule.timezone
        triggers.append(trig)
    for i, event in enumerate(plan.event_triggers):
        require_defaults(plan, "@trigger")
        triggers.append({
            "id": "event-%d" % i,
            "type": "io.kestra.plugin.core.trigger.Webhook",
            # Names the event for a reader and for `send-event`, which finds the key by it.
            "description": event_description(event.name),
            "key": webhook_key(target, event.name),
            "inputs": {EVENT_INPUT: "{{ trigger.body }}"},
        })
    if plan.flow_triggers:
        upstream = [(target.namespace, flow_id(t.deployed_name)) for t in plan.flow_triggers]
        triggers.append(profile.flow_trigger("on-finish", upstream))
    return triggers


def event_description(event: str) -> str:
    return "Metaflow event %s" % json.dumps(event)


def webhook_key(target: KestraTarget, event: str) -> str:
    """The key chosen at deploy when there is one (random: nobody can derive it); else stable
    across compiles (same text twice), keyed with the webhook secret when set."""
    chosen = dict(target.webhook_keys).get(event)
    if chosen:
        return chosen
    message = ("%s/%s/%s" % (target.namespace, target.flow_id, event)).encode("utf-8")
    if target.webhook_secret:
        digest = hmac.new(target.webhook_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(message).hexdigest()
    return "mf-" + digest[:40]


def iso_seconds(seconds: int) -> str:
    return "PT%dS" % max(int(seconds), 0)

