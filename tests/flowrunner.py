"""Running example flows for tests: locally (the reference), and through the launcher.

``walk`` is a minimal engine written against the plan: it runs every task with the
launcher's command, in plan order, feeding back what tasks report (foreach width,
switch branch, loop iterations) exactly as an engine back end must. Its results are
compared with ``python flow.py run``.
"""
from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from metaflow_extensions.orchestrators.plugins.plan import Foreach, Plan, Split, StepTask, Switch
from metaflow_extensions.orchestrators.plugins.plan.serialize import from_dict
from metaflow_extensions.orchestrators.plugins.runtime import ids
from metaflow_extensions.orchestrators.plugins.runtime.pathspecs import decompress
from metaflow_extensions.orchestrators.plugins.runtime.spec import DeployOptions, encode, init_spec, step_spec

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
ENTRY = "metaflow_extensions.orchestrators.plugins.runtime.entry"

Position = Tuple[Tuple[int, ...], Optional[int]]  # (foreach index path, loop iteration)


def example(name: str) -> str:
    return os.path.join(EXAMPLES, name + ".py")


def flow_command(name: str, *args: str, env: Optional[Dict[str, str]] = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, example(name), *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError("%s %s failed:\n%s\n%s" % (name, " ".join(args), proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


@functools.lru_cache(maxsize=None)
def load_plan(name: str, engine: str = "kestra") -> Plan:
    """The plan as ``python flow.py <engine> plan`` prints it (Metaflow's CLI did the init)."""
    return from_dict(json.loads(flow_command(name, "--no-pylint", engine, "plan").stdout))


@dataclass
class LocalTask:
    step: str
    task_id: str
    input_paths: List[str]
    split_index: Optional[int]


@dataclass
class LocalRun:
    flow_name: str
    run_id: str
    tasks: List[LocalTask] = field(default_factory=list)


_STEP_LINE = re.compile(r"debug\[subcommand[^\]]*\]: (.*\bstep\b.*)$")


@functools.lru_cache(maxsize=None)
def local_run(name: str) -> LocalRun:
    """``python flow.py run`` with the step command lines Metaflow itself launched."""
    run_id_file = os.path.join(os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"], "run-%s" % uuid.uuid4().hex)
    proc = flow_command(name, "run", "--run-id-file", run_id_file, env={"METAFLOW_DEBUG_SUBCOMMAND": "1"})
    with open(run_id_file) as f:
        run = LocalRun(load_plan(name).flow_name, f.read().strip())
    for line in (proc.stdout + proc.stderr).splitlines():
        match = _STEP_LINE.search(line)
        if match:
            run.tasks.append(_parse_step_command(shlex.split(match.group(1))))
    return run


def _parse_step_command(argv: List[str]) -> LocalTask:
    rest = argv[argv.index("step") + 1:]
    opts = {rest[i]: rest[i + 1] for i in range(1, len(rest) - 1) if rest[i].startswith("--")}
    split = opts.get("--split-index")
    return LocalTask(rest[0], opts["--task-id"], decompress(opts["--input-paths"]), None if split is None else int(split))


def client_run(flow_name: str, run_id: str):
    from metaflow import Run, namespace

    namespace(None)
    return Run("%s/%s" % (flow_name, run_id))


def task_position(task) -> Position:
    stack = task["_foreach_stack"].data if "_foreach_stack" in task else []
    loops = task["_iteration_stack"].data if "_iteration_stack" in task else []
    return tuple(int(f.index) for f in stack), (int(loops[-1]) if loops else None)


def tasks_by_position(flow_name: str, run_id: str) -> Dict[Tuple[str, Position], object]:
    out = {}
    for step in client_run(flow_name, run_id):
        for task in step:
            out[(step.id, task_position(task))] = task
    return out


def user_artifacts(task) -> Dict[str, object]:
    return {a.id: a.data for a in task if not a.id.startswith("_") and a.id != "name"}


# --- the reference walker ---------------------------------------------------------


@dataclass
class WalkState:
    execution_id: str
    widths: Dict[Tuple[int, ...], int] = field(default_factory=dict)
    branches: Dict[str, str] = field(default_factory=dict)
    loops: Dict[str, int] = field(default_factory=dict)
    commands: List[Dict] = field(default_factory=list)
    reports: Dict[Tuple[str, Tuple[int, ...], int], Dict] = field(default_factory=dict)


def deploy_options(name: str, **overrides) -> DeployOptions:
    root = os.path.join(os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"], ".metaflow")
    base = dict(engine="local", flow_file=example(name), metadata="local", datastore="local",
                datastore_root=root, owner=os.environ.get("USERNAME", "tester"))
    base.update(overrides)
    return DeployOptions(**base)


def walk(name: str, params: Optional[Dict[str, object]] = None, deploy: Optional[DeployOptions] = None,
         workdir: Optional[str] = None, state: Optional["WalkState"] = None) -> str:
    """Run the whole flow through the launcher, task by task; return the run id."""
    plan = load_plan(name)
    deploy = deploy or deploy_options(name)
    state = state or WalkState(execution_id="x" + uuid.uuid4().hex[:12])
    workdir = workdir or os.path.join(os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"], "work-" + state.execution_id)
    os.makedirs(workdir, exist_ok=True)
    _launch(init_spec(plan, deploy), {"MFO_PARAMS": json.dumps(params or {})}, state, workdir)
    _walk_sequence(plan, plan.root, (), state, deploy, workdir)
    return ids.run_id(deploy.engine, state.execution_id)


def _walk_sequence(plan, seq, path, state, deploy, workdir) -> None:
    for block in seq:
        if isinstance(block, StepTask):
            _run_step(plan, block, path, state, deploy, workdir)
        elif isinstance(block, Split):
            _run_step(plan, block.head, path, state, deploy, workdir)
            for branch in block.branches:
                _walk_sequence(plan, branch, path, state, deploy, workdir)
        elif isinstance(block, Foreach):
            width = _run_step(plan, block.head, path, state, deploy, workdir)["foreach_width"]
            for i in range(width):
                _walk_sequence(plan, block.body, path + (i,), state, deploy, workdir)
            state.widths[path] = width
        elif isinstance(block, Switch):
            chosen = _run_switch(plan, block, path, state, deploy, workdir)
            case = next(c for c in block.cases if c.target == chosen)
            _walk_sequence(plan, case.body, path, state, deploy, workdir)


def _run_switch(plan, block, path, state, deploy, workdir) -> str:
    iteration = 0
    while True:
        chosen = _run_step(plan, block.head, path, state, deploy, workdir, iteration)["branch"]
        if chosen != block.head.name:
            break
        iteration += 1
    key = ids.position_key(block.head.name, path)
    state.branches[key] = chosen
    if block.head.recursive:
        state.loops[key] = iteration
    return chosen


def _run_step(plan, task, path, state, deploy, workdir, iteration=0) -> Dict:
    env = {
        "MFO_INDEX_PATH": ".".join(map(str, path)),
        "MFO_ITERATION": str(iteration),
        "MFO_BRANCHES": json.dumps(state.branches),
        "MFO_LOOPS": json.dumps(state.loops),
    }
    if task.inputs.kind == "foreach-join":
        env["MFO_WIDTH"] = str(state.widths[path])
    spec = step_spec(plan, task, deploy)
    for attempt in range(task.retry.total_attempts):
        # An engine retries a failed attempt with the next attempt number, as Metaflow does.
        try:
            report = _launch(spec, env, state, workdir, attempt, last=attempt + 1 == task.retry.total_attempts)
            break
        except TaskFailed:
            continue
    state.reports[(task.name, path, iteration)] = report
    return report


class TaskFailed(AssertionError):
    pass


def _launch(spec, env, state: WalkState, workdir: str, attempt: int = 0, last: bool = True) -> Dict:
    report = os.path.join(workdir, "report-%s.json" % uuid.uuid4().hex[:8])
    full_env = {**os.environ, **env, "MFO_SPEC": encode(spec), "MFO_EXECUTION_ID": state.execution_id,
                "MFO_ATTEMPT": str(attempt), "MFO_REPORT_FILE": report}
    proc = subprocess.run([sys.executable, "-m", ENTRY], cwd=workdir, env=full_env, capture_output=True, text=True, timeout=600)
    state.commands.append({"spec": spec, "env": env, "attempt": attempt, "returncode": proc.returncode})
    if proc.returncode != 0:
        error = TaskFailed if not last else AssertionError
        raise error("task %s failed:\n%s\n%s" % (spec.get("step", "init"), proc.stdout[-3000:], proc.stderr[-3000:]))
    if spec["kind"] == "init":
        return {}
    with open(report) as f:
        return json.load(f)


# Exception objects carry stack traces with paths: compared through caught_type/_message.
_UNCOMPARABLE = {"caught"}


def comparable_artifacts(flow_name: str, run_id: str):
    """Every task's user artifacts by position: what an engine run is compared on with
    ``python flow.py run``."""
    return {key: {k: v for k, v in user_artifacts(task).items() if k not in _UNCOMPARABLE}
            for key, task in tasks_by_position(flow_name, run_id).items()}


def engine_cli(engine: str, name: str, *args: str, env: Dict[str, str], check: bool = True):
    """``python flow.py --no-pylint <engine> ...`` with the server's settings in ``env``
    (credentials only there, never on the command line)."""
    proc = subprocess.run([sys.executable, example(name), "--no-pylint", engine, *args],
                          capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError("%s %s failed:\n%s\n%s" % (engine, " ".join(args), proc.stdout[-3000:],
                                                         proc.stderr[-3000:]))
    return proc


def assert_bad_inputs_refused(cli) -> None:
    """One line, no traceback, for inputs a user gets wrong (``cli(*args)`` runs ``python
    linear.py <engine> *args`` against the server): an unknown parameter, a bool that is
    none, non-positive counts and durations. The two documented forms agree on booleans."""
    bad = cli("trigger", "--run-param", "nope=1")
    assert bad.returncode != 0 and "no parameter 'nope'" in bad.stdout + bad.stderr
    maybe = cli("trigger", "--run-param", "flag=maybe")
    assert maybe.returncode != 0 and "is not a boolean" in maybe.stderr and "Traceback" not in maybe.stderr
    for option in (["--max-workers", "0"], ["--workflow-timeout", "-5"]):
        refused = cli("create", *option)
        assert refused.returncode != 0 and "Invalid value for '%s'" % option[0] in refused.stderr, refused.stderr


def assert_task_logs_saved(name: str, flow_name: str, run_id: str, step: str, stream: str, *expected: str) -> None:
    """What a user reads after an engine run, from the Metaflow datastore: ``task.stdout`` /
    ``task.stderr`` (the client) and ``python flow.py logs`` (Metaflow's own command)."""
    run = client_run(flow_name, run_id)
    text = getattr(next(iter(run[step])), stream)
    for piece in expected:
        assert piece in text, (stream, text[-2000:])
    args = [sys.executable, example(name), "--no-pylint", "logs", "%s/%s" % (run_id, step)]
    if stream == "stderr":
        args.append("--stderr")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    for piece in expected:
        assert piece in proc.stdout + proc.stderr, (proc.stdout[-2000:], proc.stderr[-2000:])


# A step with a card: both engines' CLI tests check `card get` and `get_cards` find it.
CARD_FLOW = '''
from metaflow import FlowSpec, card, current, step
from metaflow.cards import Markdown


class CardFlow(FlowSpec):
    @card(type="blank", id="report")
    @step
    def start(self):
        current.card["report"].append(Markdown("# card from the engine"))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardFlow()
'''


def assert_card_found(path, run_id: str, step: str = "start") -> None:
    """The card of an engine task, as a local run's: the client and ``card get``."""
    from metaflow import Task, namespace
    from metaflow.cards import get_cards

    namespace(None)
    task = next(iter(client_run("CardFlow", run_id)[step]))
    cards = get_cards(Task(task.pathspec), id="report")
    assert len(cards) == 1 and cards[0].type == "blank" and "<html" in cards[0].get()
    # `card get` looks for `.metaflow/mf.cards` upwards from where it runs: the datastore's directory.
    sysroot = os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"]
    proc = subprocess.run([sys.executable, str(path), "--no-pylint", "card", "get", task.pathspec.split("/", 1)[1], "--id", "report"],
                          capture_output=True, text=True, timeout=300, cwd=sysroot)
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]


BIG_VALUES = ("a" * 70000 + "\u00e9", "{{ b }}" * 10000)  # each over the 128 KiB/2 of one argument, both over 128 KiB


def assert_big_values_arrive(cli, flow_name: str) -> None:
    """Two 70,000-character parameters (issue 18, item 3) reach the run unchanged: the run's
    input travels in a file (Kestra) or is read from the flow job (Windmill), not in one
    environment variable or process argument (128 KiB each)."""
    proc = cli("run", "--wait", "--run-param", "greeting=" + BIG_VALUES[0], "--run-param", "label=" + BIG_VALUES[1])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    rid = next(w for w in out.split() if w.startswith(flow_name + "/")).split("/")[1]
    result = client_run(flow_name, rid).data.result
    assert result["greeting"] == BIG_VALUES[0] and result["label"] == BIG_VALUES[1]


# A foreach whose second iteration fails: both engines' CLI tests run it.
FAILING_FOREACH = '''
from metaflow import FlowSpec, step


class FailInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if self.input == 2:
            raise ValueError("boom in iteration %d" % self.index)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailInForeachFlow()
'''
