"""What happens inside tasks: retries, @catch, @environment, reports, and the entry's cost."""
import base64
import json
import os
import subprocess
import sys

import pytest

import flowrunner as fr
from metaflow_extensions.orchestrators.plugins.runtime.spec import encode, step_spec

pytestmark = pytest.mark.e2e


def test_retry_catch_environment_through_the_launcher():
    plan = fr.load_plan("decorators")
    state = fr.WalkState(execution_id="retry-" + os.urandom(4).hex())
    run = fr.client_run(plan.flow_name, fr.walk("decorators", state=state))
    assert run.successful
    flaky = run["flaky"].task
    assert flaky.data.attempt_seen == 2 and flaky.current_attempt == 2
    attempts = [c["attempt"] for c in state.commands if c["spec"].get("step") == "flaky"]
    assert attempts == [0, 1, 2]
    checked = run["checked"].task.data
    assert (checked.caught_type, checked.caught_message) == ("builtins.ValueError", "risky step always fails")
    assert checked.greeting_env == "hello"


def test_reports_carry_width_branch_artifacts_and_a_working_snippet(tmp_path):
    state = fr.WalkState(execution_id="rep-" + os.urandom(4).hex())
    fr.walk("switch_in_foreach", state=state)
    start = state.reports[("start", (), 0)]
    assert start["foreach_width"] >= 2 and start["task_id"] == "t"
    assert start["pathspec"].endswith("/start/t") and start["artifacts"]
    body = state.reports[("body", (1,), 0)]
    assert body["branch"] in ("even_step", "odd_a")
    proc = subprocess.run([sys.executable, "-c", start["snippet"]], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in start["artifacts"]:
        assert name in proc.stdout


def test_entry_imports_no_metaflow_and_reports_bad_input(tmp_path):
    plan = fr.load_plan("branch")
    spec = encode(step_spec(plan, plan.step("join"), fr.deploy_options("branch")))
    probe = ("import runpy, sys; sys.argv = ['entry', '--dry-run'];"
             "runpy.run_module(%r, run_name='__main__', alter_sys=True)" % fr.ENTRY)
    check = probe.replace("runpy.run_module", "r = None\ntry:\n    runpy.run_module") + \
        "\nexcept SystemExit:\n    pass\nassert not any(m == 'metaflow' or m.startswith('metaflow.') for m in sys.modules), 'metaflow imported'"
    env = {**os.environ, "MFO_SPEC": spec, "MFO_EXECUTION_ID": "e1"}
    proc = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    argv = json.loads(proc.stdout)["argv"]
    assert argv[argv.index("--input-paths") + 1] == "local-e1/:a2/t,b3/t"
    bad = subprocess.run([sys.executable, "-m", fr.ENTRY], env={**os.environ, "MFO_SPEC": spec},
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "no execution id" in bad.stderr


def test_a_task_that_cannot_end_the_run_does_not_run_its_step(tmp_path):
    """MFO_FINISH (the end step's task also starts the flows waiting for the run) is checked
    before the step runs: outside a Windmill flow step, or with a spec of another engine,
    the task stops at once with one line, and no step ran."""
    plan = fr.load_plan("linear")
    spec = encode(step_spec(plan, plan.step("end"), fr.deploy_options("linear")))
    finish = json.dumps({"flow_name": plan.flow_name, "deployed_name": plan.flow_name})
    env = {**os.environ, "MFO_SPEC": spec, "MFO_EXECUTION_ID": "fin-" + os.urandom(4).hex(), "MFO_FINISH": finish}
    proc = subprocess.run([sys.executable, "-m", fr.ENTRY, "--step", "end"], env=env, capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "metaflow-orchestrators: cannot start the task: --finish-spec goes with a Windmill step's spec"], proc.stderr
    windmill_spec = json.loads(base64.b64decode(spec)) if not spec.startswith("{") else json.loads(spec)
    env["MFO_SPEC"] = json.dumps(dict(windmill_spec, engine="windmill"))
    proc = subprocess.run([sys.executable, "-m", fr.ENTRY, "--step", "end"], env=env, capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "not running as a Windmill flow step (no BASE_INTERNAL_URL" in proc.stderr
    assert "Task is starting" not in proc.stdout + proc.stderr


def test_a_retry_of_the_end_module_after_its_step_succeeded_only_ends_the_run(tmp_path):
    """Windmill retries the end step's module (@retry) when the run's end failed after the
    step succeeded (the waiting flows could not be started): the step does not run again,
    its report is made again, and the run's end is (here against the Windmill emulator, with
    no flow waiting)."""
    from metaflow_orchestrators.emulators.windmill import start

    plan = fr.load_plan("linear")
    state = fr.WalkState(execution_id="done-" + os.urandom(4).hex())
    deploy = fr.deploy_options("linear", engine="windmill", reporter="file")  # the walk reads report files
    run = fr.client_run(plan.flow_name, fr.walk("linear", deploy=deploy, state=state))
    assert run.successful and run["end"].task.current_attempt == 0 and run.id.startswith("windmill-")
    spec = step_spec(plan, plan.step("end"), fr.deploy_options("linear", engine="windmill"))
    with start(token="t", workspace="w") as wm:
        env = {**os.environ, "MFO_SPEC": json.dumps(spec), "MFO_EXECUTION_ID": state.execution_id, "MFO_ATTEMPT": "1",
               "MFO_FINISH": json.dumps({"flow_name": plan.flow_name, "deployed_name": plan.flow_name}),
               "BASE_INTERNAL_URL": wm.url, "WM_WORKSPACE": "w", "WM_TOKEN": "t", "WM_FLOW_JOB_ID": "j1",
               "WM_FLOW_PATH": "f/metaflow/LinearFlow"}
        proc = subprocess.run([sys.executable, "-m", fr.ENTRY, "--step", "end"], env=env, capture_output=True,
                              text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "only the run's end runs again" in proc.stdout and "No deployed flow waits for LinearFlow" in proc.stdout
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["pathspec"].endswith("/end/t") and result["started"] == []
    assert fr.client_run(plan.flow_name, run.id)["end"].task.current_attempt == 0  # not run again


def test_the_finished_module_of_older_deployments_still_runs(tmp_path):
    """Flows deployed before the run's end moved into the end step end with a module
    `mf__finished` running `runtime.windmill --finished`: it still starts, and outside a
    Windmill flow step says so in one line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WM_", "BASE_INTERNAL_URL"))}
    env["MFO_STEP"] = json.dumps({"kind": "finished", "flow_name": "F", "deployed_name": "F"})
    proc = subprocess.run([sys.executable, "-m", "metaflow_extensions.orchestrators.plugins.runtime.windmill",
                           "--finished"], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "metaflow-orchestrators: not running as a Windmill flow step (no BASE_INTERNAL_URL, WM_WORKSPACE, "
        "WM_FLOW_JOB_ID, WM_TOKEN, WM_FLOW_PATH, MFO_EXECUTION_ID)"], proc.stderr


@pytest.mark.parametrize("step_env", [{}, {"METAFLOW_MFO_TEST_SETTING": "step-only"}], ids=["shared", "own"])
def test_the_first_task_starts_the_run_then_runs_its_step_and_again_on_a_retry(tmp_path, step_env):
    """MFO_INIT: the start step's task runs `metaflow init` (forked, one Metaflow import for
    both) and then the step; its report holds the run it started. A retry (attempt 1) runs
    the init again over the same records and the step as attempt 1. A step whose own
    METAFLOW_* settings differ from the init's (@environment) is not run with Metaflow as
    the init's settings imported it."""
    from metaflow_extensions.orchestrators.plugins.runtime.spec import flow_part, init_part, step_part

    plan = fr.load_plan("linear")
    deploy = fr.deploy_options("linear")
    execution = "fused-" + os.urandom(4).hex()
    part = step_part(plan, plan.step("start"), deploy)
    part["env"] = dict(part.get("env") or {}, **step_env)
    env = {**os.environ, "MFO_FLOW": encode(flow_part(plan, deploy)),
           "MFO_STEP": encode(part), "MFO_INIT": encode(init_part(plan)),
           "MFO_EXECUTION_ID": execution, "MFO_PARAMS": json.dumps({"alpha": 7, "greeting": "hey"})}
    for attempt in (0, 1):
        report = tmp_path / ("report-%d.json" % attempt)
        proc = subprocess.run([sys.executable, "-m", fr.ENTRY, "--step", "start"], cwd=tmp_path, timeout=300,
                              env={**env, "MFO_ATTEMPT": str(attempt), "MFO_REPORT_FILE": str(report)},
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        values = json.loads(report.read_text())
        assert values["execution_id"] == execution and values["run_id"] == "local-" + execution
        assert values["origin_run_id"] == "" and values["pathspec"].endswith("/start/t")
    run = fr.client_run(plan.flow_name, "local-" + execution)
    start = run["start"].task
    assert start.current_attempt == 1 and start.data.alpha == 7 and start.data.greeting == "hey"
    assert "MFO_INIT" not in proc.stdout  # the plumbing never reaches user code's output


EXIT_FLOW = '''
import atexit, gc, os, tempfile
from metaflow import FlowSpec, step

OUT = os.environ["EXIT_PROBE_DIR"]


class ExitFlow(FlowSpec):
    @step
    def start(self):
        global LOG, TEMP
        LOG = open(os.path.join(OUT, "unclosed.txt"), "w")  # buffered, never flushed by the step
        LOG.write("kept " * 100)
        TEMP = tempfile.NamedTemporaryFile(dir=OUT, prefix="temp-")  # removed when released
        gc.disable()  # the cycle below stays uncollected until the interpreter's exit
        cycle = {"file": open(os.path.join(OUT, "cycle.txt"), "w")}
        cycle["self"] = cycle
        cycle["file"].write("held " * 100)
        del cycle
        atexit.register(lambda: open(os.path.join(OUT, "step-handler.txt"), "w").write(
            str(gc.get_freeze_count())))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExitFlow()
'''


def test_a_task_exit_skips_the_last_collection_and_loses_nothing(tmp_path):
    """The entry freezes the collector as the interpreter exits (~60 ms of a task's CPU, which
    `python flow.py step` spends on a last garbage collection). The step's own exit handlers
    run before that. What only that collection reached is still done: a file the step left
    open and unflushed in the flow's globals is written out, a temporary file held there is
    removed, and a file in a reference cycle (the step disabled the collector) is written
    out. A handler registered before the entry runs (sitecustomize) runs last and sees the
    freeze."""
    from metaflow_extensions.orchestrators.plugins.plan.serialize import from_dict
    from metaflow_extensions.orchestrators.plugins.runtime.spec import flow_part, init_part, step_part

    flow = tmp_path / "exit_flow.py"
    flow.write_text(EXIT_FLOW)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import atexit, gc, os\n"
        "atexit.register(lambda: open(os.path.join(os.environ['EXIT_PROBE_DIR'], 'last-handler.txt'), 'w')"
        ".write(str(gc.get_freeze_count())))\n")
    env = {**os.environ, "EXIT_PROBE_DIR": str(tmp_path)}
    shown = subprocess.run([sys.executable, str(flow), "--no-pylint", "kestra", "plan"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    plan = from_dict(json.loads(shown.stdout))
    deploy = fr.deploy_options("linear", flow_file=str(flow))
    execution = "exit-" + os.urandom(4).hex()
    proc = subprocess.run(
        [sys.executable, "-m", fr.ENTRY, "--step", "start"], cwd=tmp_path, timeout=300, capture_output=True, text=True,
        env={**env, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
             "MFO_FLOW": encode(flow_part(plan, deploy)), "MFO_STEP": encode(step_part(plan, plan.step("start"), deploy)),
             "MFO_INIT": encode(init_part(plan)), "MFO_EXECUTION_ID": execution,
             "MFO_REPORT_FILE": str(tmp_path / "report.json")})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "unclosed.txt").read_text() == "kept " * 100
    assert (tmp_path / "cycle.txt").read_text() == "held " * 100
    assert not list(tmp_path.glob("temp-*"))
    assert (tmp_path / "step-handler.txt").read_text() == "0"
    assert int((tmp_path / "last-handler.txt").read_text()) > 1000
    assert fr.client_run("ExitFlow", "local-" + execution)["start"].task.successful
