"""Plan -> Windmill OpenFlow (the body of ``POST /api/w/{ws}/flows/create``).

A small recursive function over the plan tree: a step becomes one bash ``rawscript``
module that ``exec``s the task entry for that step; a split a parallel ``branchall`` of
multi-step branches; a foreach a parallel ``forloopflow`` over the full index paths its
head reported; a switch a ``branchone`` on the branch its head reported, with a branch
for every case; a recursive switch a ``whileloopflow`` around its step that stops once
the step chose another branch.

Every runtime value reaches a task as an input transform: ``static`` for what the
compiler knows (the deployment's settings and the step's facts, as readable JSON
objects), and a fixed set of JavaScript expressions over ``flow_input``
(``iter``/``iter_parent``) and ``results.<module id>``, built only from our own module
ids. User text (parameter values, tags, configs, @environment values, docstrings) is
never part of a script or an expression: it travels as ``static`` JSON or as
``flow_input``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ..plan import Capabilities, Foreach, Plan, PlanError, Split, StepTask, Switch, require_supported
from ..plan.model import Case, Sequence
from ..plan.queries import (first_step, input_switch_heads, recursive_input_heads, require_defaults,
                            switch_heads_at_scope)
from ..plan.visit import BlockVisitor
from ..runtime.spec import DeployOptions, check_task_value, flow_part, init_part, step_part
from ..runtime.windmill import EVENT_INPUT, FLOW_INPUT, deployment_of
from . import naming, schema, scripts

CAPABILITIES = Capabilities(engine="Windmill", recursive_switch=True)
# Metaflow enforces @timeout inside the step; Windmill's module timeout is the backstop.
TIMEOUT_BUFFER = 60
MAX_RETRY_SECONDS = 65535  # flows.rs ConstantDelay.seconds: u16

flow_path = naming.flow_path
check_folder = naming.check_folder
check_path = naming.check_path
step_of = naming.step_of


def is_step_module(module_id: str) -> bool:
    return naming.step_of(module_id) is not None


def schedule_path(flow: str) -> str:
    """A flow's schedule shares its path, as Windmill's own primary schedule does."""
    return flow


@dataclass(frozen=True)
class WindmillTarget:
    """Where and how the flow is deployed (everything beyond the plan and the spec)."""

    workspace: str = "admins"
    path: str = ""  # "f/<folder>/<name>", see flow_path()
    max_workers: int = 10  # forloopflow parallelism
    workflow_timeout: Optional[int] = None  # seconds
    python: str = "python3"  # the worker's interpreter


@dataclass(frozen=True)
class Scope:
    """The loops around a module, outermost first (``foreach`` / ``while``): Windmill
    renames an enclosing loop's ``iter`` to ``iter_parent`` for each loop inside it
    (``insert_iter_arg``, worker_flow.rs@1.788.0)."""

    loops: Tuple[str, ...] = ()

    def inside(self, kind: str) -> "Scope":
        return Scope(self.loops + (kind,))

    @property
    def depth(self) -> int:
        return self.loops.count("foreach")

    def index_path(self) -> str:
        """The foreach index path: the value of the innermost foreach iteration."""
        inner = len(self.loops) - 1 - self.loops[::-1].index("foreach")
        return "flow_input.%s.value" % _iter_name(len(self.loops) - 1 - inner)


def _iter_name(levels_up: int) -> str:
    return "iter" + "_parent" * levels_up


@dataclass
class _Context:
    plan: Plan
    deploy: DeployOptions
    target: WindmillTarget
    flow_spec: Dict[str, Any] = field(init=False)
    start_id: str = field(init=False)  # the first step's module: it also starts the run

    def __post_init__(self):
        self.flow_spec = shared_spec(self.plan, self.deploy)
        check_task_value("the deployment's settings", self.flow_spec)
        self.start_id = naming.step_id(first_step(self.plan.root))

    def run_fact(self, name: str) -> Dict[str, Any]:
        """What the first step's module reported of the run it started (execution_id, run_id,
        origin_run_id), for every later module."""
        return js("results.%s.%s" % (self.start_id, name))


# --- the document -----------------------------------------------------------------------


def compile_flow(plan: Plan, deploy: DeployOptions, target: WindmillTarget) -> Dict[str, Any]:
    """The ``flows/create`` body for ``plan`` as plain data."""
    require_supported(plan, CAPABILITIES)
    naming.check_steps(plan)
    if plan.event_triggers:
        require_defaults(plan, "@trigger")
    if plan.flow_triggers:
        require_defaults(plan, "@trigger_on_finish")
    ctx = _Context(plan, deploy, target)
    path = target.path or flow_path(plan.project.flow_name if plan.project else plan.flow_name)
    doc: Dict[str, Any] = {
        "path": path,
        "summary": summary(plan),
        "description": description(ctx),
        "value": {"modules": sequence_modules(ctx, plan.root, Scope())},
        "schema": schema.flow_schema(plan, EVENT_INPUT if triggered(plan) else None),
    }
    if target.workflow_timeout:
        doc["timeout"] = int(target.workflow_timeout)  # NewFlow.timeout (seconds), flows.rs
    return doc


# What compile_flow writes of a flow (NewFlow's fields we set, flows.rs): a stored flow equal
# on each (absent = null) is this document, already deployed.
FLOW_FIELDS = ("path", "summary", "description", "value", "schema", "timeout")


def same_flow(stored: Optional[Dict[str, Any]], doc: Dict[str, Any]) -> bool:
    """Whether ``stored`` (a ``flows/get`` body) is ``doc`` as deployed. An archived flow is
    updated as before, never skipped."""
    if stored is None or stored.get("archived") or set(doc) - set(FLOW_FIELDS):
        return False
    deployed = json.loads(json.dumps(dict(doc, value=stored_value(doc["value"]))))  # as sent: tuples are lists
    return all(stored.get(key) == deployed.get(key) for key in FLOW_FIELDS)


def stored_value(value: Any) -> Any:
    """A flow value as Windmill stores it: the server re-serializes it, spelling out serde's
    defaults (flows.rs@v1.788.0). Every control field of ours is explicit but a branch's
    ``parallel`` (``Branch.parallel``, ``default_true``, no effect on a run), which it adds."""
    if isinstance(value, list):
        return [stored_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: stored_value(v) for k, v in value.items()}
    if out.get("type") in ("branchall", "branchone"):
        out["branches"] = [dict({"parallel": True}, **b) for b in out.get("branches") or []]
    return out


def schedule_of(plan: Plan, target: WindmillTarget) -> Optional[Dict[str, Any]]:
    """The ``schedules/create`` body for ``@schedule``, or None. A flow's schedule shares
    the flow's path, as Windmill's own "primary schedule" does."""
    path = target.path or flow_path(plan.project.flow_name if plan.project else plan.flow_name)
    return schema.schedule_body(plan, schedule_path(path))


def dump(doc: Any) -> str:
    """JSON text with sorted keys: compiling twice gives the same text."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def summary(plan: Plan) -> str:
    name = plan.project.flow_name if plan.project else plan.flow_name
    return "Metaflow flow %s" % name


def description(ctx: _Context) -> str:
    """What a Windmill user reads on the flow page (never evaluated)."""
    plan = ctx.plan
    lines = ["Metaflow flow `%s` from `%s`, deployed by metaflow-orchestrators." % (
        plan.flow_name, ctx.deploy.flow_file.rsplit("/", 1)[-1])]
    if plan.doc:
        lines.append(plan.doc.strip())
    if plan.project:
        lines.append("@project %s, branch %s" % (plan.project.name, plan.project.branch))
    lines.append("Each step module runs `python %s step <step> --run-id windmill-<flow job id> ...` "
                 "through the task entry; its result holds the task's pathspec, artifact names and a "
                 "client snippet." % ctx.deploy.flow_file.rsplit("/", 1)[-1])
    for task in plan.steps():
        if task.resources:
            res = ", ".join("%s=%s" % (k, v) for k, v in vars(task.resources).items() if v is not None)
            lines.append("@resources on %s: %s (not enforced: run the flow on a worker group sized "
                         "for it)" % (task.name, res))
    return "\n\n".join(lines)


def shared_spec(plan: Plan, deploy: DeployOptions) -> Dict[str, Any]:
    """The spec part every task shares. Windmill clears a job's environment
    (bash_executor.rs ``env_clear``), so a local datastore's root travels with it."""
    part = flow_part(plan, deploy)
    sysroot = deploy.local_sysroot()
    if sysroot:
        env = dict(part.get("env") or {})
        env.setdefault("METAFLOW_DATASTORE_SYSROOT_LOCAL", sysroot)
        part["env"] = env
    return part


# --- input transforms -------------------------------------------------------------------


def static(value: Any) -> Dict[str, Any]:
    return {"type": "static", "value": value}


def js(expr: str) -> Dict[str, Any]:
    """A single JavaScript expression (windmill-errata 5: no ``;``, dotted access)."""
    return {"type": "javascript", "expr": expr}


def results_of(module_ids: List[str]) -> str:
    """The results of modules by id (null for one that did not run: windmill-jseval
    ``handle_full_regex`` / ``__fetchResult``). One id is Windmill's fast path."""
    refs = ["results.%s" % m for m in module_ids]
    return refs[0] if len(refs) == 1 else "[%s]" % ", ".join(refs)


def rawscript(module_id: str, summary_text: str, content: str, transforms: Dict[str, Any]) -> Dict[str, Any]:
    return {"id": module_id, "summary": summary_text,
            "value": {"type": "rawscript", "language": "bash", "content": content,
                      "input_transforms": transforms}}


# --- modules ----------------------------------------------------------------------------


def deployment(ctx: _Context) -> Dict[str, Any]:
    """Who deployed what, where the CLI and ``from_deployment`` read it back (Windmill
    flows have no labels): kept with the init's spec part (the first step's module), which ignores it."""
    plan, facts = ctx.plan, {"flow_name": ctx.plan.flow_name, "deployed_name": deployed_name(ctx.plan)}
    if ctx.deploy.owner:
        facts["owner"] = ctx.deploy.owner
    if plan.project:
        facts.update(project=plan.project.name, branch=plan.project.branch)
    if plan.event_triggers:
        facts["events"] = sorted({t.name for t in plan.event_triggers})
    if plan.flow_triggers:
        facts["after"] = sorted({t.deployed_name for t in plan.flow_triggers})
    return facts


def deployed_name(plan: Plan) -> str:
    return plan.project.flow_name if plan.project else plan.flow_name


def triggered(plan: Plan) -> bool:
    """Runs of this flow may be started by an event (``@trigger``) or by another flow's
    run (``@trigger_on_finish``): the payload arrives as the flow input ``metaflow_event``."""
    return bool(plan.event_triggers or plan.flow_triggers)


deployment_facts = deployment_of


def init_step_part(ctx: _Context) -> Dict[str, Any]:
    part = dict(init_part(ctx.plan), deployment=deployment(ctx))
    if triggered(ctx.plan):
        part.update(event_input=EVENT_INPUT, internal_inputs=[EVENT_INPUT])  # an input, not a parameter
    return part


def add_finish(ctx: _Context, transforms: Dict[str, Any]) -> None:
    """The end step's module also ends the run, once the step succeeded (the run did): it
    starts the deployed flows that wait for this one (``@trigger_on_finish``; Windmill has
    no flow-finish trigger), looked up then, so a flow deployed later is found too. In the
    end step's own process (runtime/windmill.py finish_run): a module of its own after it
    cost an interpreter start on every run."""
    transforms["MFO_FINISH"] = static({"flow_name": ctx.plan.flow_name, "deployed_name": deployed_name(ctx.plan)})


def package_transforms(ctx: _Context) -> Dict[str, Any]:
    """Where a task fetches the flow's code package from (code_package.py), if it has one."""
    package = ctx.deploy.code_package
    return {name: static(value) for name, value in package.variables().items()} if package is not None else {}


def add_init(ctx: _Context, transforms: Dict[str, Any]) -> None:
    """The first step's module also starts the run (``metaflow init``: the run
    ``windmill-<flow job id>`` and its parameters, or a resume's clone), in its own process
    before the step: a module of its own would start an interpreter and import Metaflow again
    (~0.3 s a run). Its flow job is the run's root flow job (``WM_FLOW_JOB_ID``: scripts.py),
    and its result also holds the run's execution id, run id and the run it resumes.
    The whole run input (parameters, an event's payload, a resume request) is read from
    the flow job: an input of a bash module is a process argument, limited to 128 KiB
    (runtime/windmill.py flow_input)."""
    transforms["MFO_INIT"] = static(init_step_part(ctx))
    transforms["MFO_PARAMS"] = static(FLOW_INPUT)


def sequence_modules(ctx: _Context, seq: Sequence, scope: Scope, sources: Tuple[str, ...] = ()) -> List[Dict[str, Any]]:
    """The modules of a sequence. ``sources`` grows block by block: the modules at this
    level whose results hold every switch report made so far, which is all a task with
    switch steps on its input paths needs (they all lie in the blocks before it)."""
    modules: List[Dict[str, Any]] = []
    joined: Optional[Foreach] = None  # the foreach whose join is the next block
    sources = list(sources)
    for block in seq:
        modules += _Blocks(ctx, scope, joined, list(sources)).visit(block)
        sources += carriers(block)
        joined = block if isinstance(block, Foreach) else None
    return modules


def nested_modules(ctx: _Context, seq: Sequence, scope: Scope, facts_id: str, what: str) -> List[Dict[str, Any]]:
    """A sequence that runs as its own (sub)flow: a branch, a case, an iteration. Modules
    after it see only its last module's result (windmill-errata 3, 10), so when switch
    steps run inside, it ends with a module whose result is their reports."""
    modules = sequence_modules(ctx, seq, scope)
    if switch_heads_at_scope(seq):
        sources = [ref for block in seq for ref in carriers(block)]
        modules.append(facts_module(facts_id, what, sources))
    return modules


def report_ref(block: Switch) -> str:
    """The module whose result holds a switch step's report, at the switch's own level:
    the step, or for a recursive step its loop (one result per pass, the last last)."""
    if block.head.recursive:
        return naming.own_id("loop", block.head.name)
    return naming.step_id(block.head.name)


def branch_expr(block: Switch) -> str:
    """The branch a switch step took, as a JavaScript expression (dotted: errata 5)."""
    if block.head.recursive:
        return "results.%s.at(-1).branch" % report_ref(block)
    return "results.%s.branch" % report_ref(block)


def carriers(block) -> List[str]:
    """Modules at a block's own level whose results hold the switch reports made inside it."""
    if isinstance(block, Switch):
        out = [report_ref(block)]
        exits = [c for c in block.cases if not c.loops_back]
        if _inlined_exit(block):
            out += [ref for inner in exits[0].body for ref in carriers(inner)]
        elif any(switch_heads_at_scope(c.body) for c in exits):
            out.append(switch_id(block))
        return out
    if isinstance(block, Split) and any(switch_heads_at_scope(b) for b in block.branches):
        return [split_id(block)]
    if isinstance(block, Foreach) and switch_heads_at_scope(block.body):
        return [foreach_id(block)]
    return []


def _inlined_exit(block: Switch) -> bool:
    """A recursive step with one way out: what follows the loop is the flow itself."""
    return block.head.recursive and len([c for c in block.cases if not c.loops_back]) == 1


def split_id(block: Split) -> str:
    return naming.own_id("split", block.head.name)


def switch_id(block: Switch) -> str:
    return naming.own_id("switch", block.head.name)


def foreach_id(block: Foreach) -> str:
    return naming.own_id("foreach", block.head.name)


class _Blocks(BlockVisitor[List[Dict[str, Any]]]):
    """A block's modules: its head step, then the flow module holding what it starts."""

    def __init__(self, ctx: _Context, scope: Scope, joined: Optional[Foreach], sources: List[str]):
        self.ctx, self.scope, self.joined, self.sources = ctx, scope, joined, sources

    def head(self, block) -> Dict[str, Any]:
        return step_module(self.ctx, block.head, self.scope, self.joined, self.sources)

    def step(self, block: StepTask) -> List[Dict[str, Any]]:
        return [step_module(self.ctx, block, self.scope, self.joined, self.sources)]

    def split(self, block: Split) -> List[Dict[str, Any]]:
        return [self.head(block), split_module(self.ctx, block, self.scope)]

    def foreach(self, block: Foreach) -> List[Dict[str, Any]]:
        return [self.head(block), foreach_module(self.ctx, block, self.scope)]

    def switch(self, block: Switch) -> List[Dict[str, Any]]:
        if block.head.recursive:
            first = loop_module(self.ctx, block, self.scope, self.joined, self.sources)
        else:
            first = self.head(block)
        if _inlined_exit(block):
            exit_case = next(c for c in block.cases if not c.loops_back)
            return [first] + sequence_modules(self.ctx, exit_case.body, self.scope,
                                              tuple(self.sources) + (report_ref(block),))
        return [first, switch_module(self.ctx, block, self.scope)]


def split_module(ctx: _Context, block: Split, scope: Scope) -> Dict[str, Any]:
    # Branches share the flow's args and run at once; a failed one fails the split once
    # all are done (windmill-errata 2), so skip_failure is false.
    branches = [{"summary": "branch %s" % first_step(b), "skip_failure": False,
                 "modules": nested_modules(ctx, b, scope, naming.own_id("facts", block.head.name, first_step(b)),
                                           "branch %s" % first_step(b))}
                for b in block.branches]
    return {"id": split_id(block), "summary": "split of %s" % block.head.name,
            "value": {"type": "branchall", "parallel": True, "branches": branches}}


def foreach_module(ctx: _Context, block: Foreach, scope: Scope) -> Dict[str, Any]:
    """A parallel loop over the full index paths the head reported, so any body step
    reads its whole position as ``flow_input.iter.value`` at any depth."""
    modules = nested_modules(ctx, block.body, scope.inside("foreach"), naming.own_id("facts", block.head.name),
                             "this iteration of %s" % block.head.name)
    return {
        "id": foreach_id(block),
        "summary": "foreach of %s" % block.head.name,
        "value": {
            "type": "forloopflow",
            "iterator": js("results.%s.foreach_indices" % naming.step_id(block.head.name)),
            "parallel": True,
            "parallelism": static(max(int(ctx.target.max_workers), 1)),
            "skip_failures": False,
            "modules": modules,
        },
    }


def facts_module(module_id: str, what: str, sources: List[str]) -> Dict[str, Any]:
    transforms = {scripts.FACTS_ARG: js(results_of(sources))}
    return rawscript(module_id, "switch reports of %s, for the steps after it" % what,
                     scripts.facts_script(), transforms)


def switch_module(ctx: _Context, block: Switch, scope: Scope) -> Dict[str, Any]:
    """A branch for every case the step can take (the one that loops back is the while
    loop's business); a case with no steps of its own gets an identity module."""
    exits = [c for c in block.cases if not c.loops_back]
    branches = [{"summary": "%s chose %s" % (block.head.name, case.target),
                 "expr": "%s === %s" % (branch_expr(block), json.dumps(case.target)),
                 "skip_failure": False,
                 "modules": nested_modules(ctx, case.body, scope,
                                           naming.own_id("facts", block.head.name, case.target),
                                           "case %s of %s" % (case.target, block.head.name))
                 or [skip_module(block, case)]}
                for case in exits]
    default = [rawscript(naming.own_id("nocase", block.head.name), "%s chose no known branch" % block.head.name,
                         scripts.no_case_script(block.head.name), {})]
    return {"id": switch_id(block), "summary": "switch on %s" % block.head.name,
            "value": {"type": "branchone", "branches": branches, "default": default}}


def skip_module(block: Switch, case: Case) -> Dict[str, Any]:
    return {"id": naming.own_id("skip", block.head.name, case.target),
            "summary": "%s chose %s: no steps before %s" % (block.head.name, case.target, block.merge),
            "value": {"type": "identity"}}


def loop_module(ctx: _Context, block: Switch, scope: Scope, joined: Optional[Foreach],
                sources: List[str]) -> Dict[str, Any]:
    """A recursive switch step (it may choose itself again) in a ``whileloopflow``: each
    pass is a new task of the step (``flow_input.iter.index``: ``t-r0``, ``t-r1``, …);
    the step's ``stop_after_if`` ends the loop once it chose another branch (inside a
    non-parallel loop a stop only breaks the loop, worker_flow.rs@1.788.0)."""
    inner = scope.inside("while")
    step = step_module(ctx, block.head, inner, joined, sources)
    step["stop_after_if"] = {"expr": "result.branch !== %s" % json.dumps(block.head.name),
                             "skip_if_stopped": False}
    return {"id": naming.own_id("loop", block.head.name),
            "summary": "passes of %s until it leaves the loop" % block.head.name,
            "value": {"type": "whileloopflow", "skip_failures": False, "modules": [step]}}


# --- one step ---------------------------------------------------------------------------


def checked_step_part(ctx: _Context, task: StepTask) -> Dict[str, Any]:
    part = step_part(ctx.plan, task, ctx.deploy)
    check_task_value("the spec of step %s" % task.name, part)
    return part


def step_module(ctx: _Context, task: StepTask, scope: Scope, joined: Optional[Foreach],
                sources: List[str]) -> Dict[str, Any]:
    transforms = step_transforms(ctx, task, scope, joined, sources)
    module = rawscript(naming.step_id(task.name), step_summary(task),
                       scripts.task_script(transforms, task.name, starts_run="MFO_INIT" in transforms,
                                           ends_run="MFO_FINISH" in transforms), transforms)
    if task.retry.total_retries:
        # `attempts` counts retries, not attempts (flows.rs Retry::interval); Metaflow's
        # @retry + @catch fallback (step_task_retry_count).
        seconds = min(int(task.retry.minutes_between * 60), MAX_RETRY_SECONDS)
        module["retry"] = {"constant": {"attempts": task.retry.total_retries, "seconds": seconds}}
    if task.timeout_seconds:
        module["timeout"] = static(int(task.timeout_seconds) + TIMEOUT_BUFFER)
    return module


def step_summary(task: StepTask) -> str:
    first_line = (task.doc or "").strip().splitlines()[0:1]
    text = "step %s" % task.name
    if first_line:
        text += ": " + first_line[0][:120]
    return text


def step_transforms(ctx: _Context, task: StepTask, scope: Scope, joined: Optional[Foreach],
                    sources: List[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "MFO_PYTHON": static(ctx.target.python),
        "MFO_FLOW": static(ctx.flow_spec),
        "MFO_STEP": static(checked_step_part(ctx, task)),
    }
    starts_run = task.inputs.kind == "params"
    if not starts_run:  # the first step's module knows both from the run it starts
        out["MFO_EXECUTION_ID"] = ctx.run_fact("execution_id")
        # Empty unless the run resumes another (runtime/resume.py): then a task the init
        # cloned only reports, the others run with --clone-run-id.
        out["MFO_ORIGIN_RUN"] = ctx.run_fact("origin_run_id")
    out.update(package_transforms(ctx))
    if starts_run:
        add_init(ctx, out)
    if task.name == ctx.plan.end_step:
        add_finish(ctx, out)
    if scope.depth:
        out["MFO_INDEX_PATH"] = js(scope.index_path())
    if task.recursive:
        out["MFO_ITERATION"] = js("flow_input.iter.index")
    if task.inputs.kind == "foreach-join":
        if joined is None:
            raise PlanError("internal: a foreach join without its foreach", task.name)
        out["MFO_WIDTH"] = js("results.%s.foreach_width" % naming.step_id(joined.head.name))
    if sources and (input_switch_heads(task.inputs.tails) or recursive_input_heads(task.inputs.tails)):
        expr = js(results_of(sources))
        if input_switch_heads(task.inputs.tails):
            out["MFO_BRANCHES"] = expr
        if recursive_input_heads(task.inputs.tails):
            out["MFO_LOOPS"] = expr
    return out
