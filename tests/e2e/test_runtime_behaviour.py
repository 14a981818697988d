"""What happens inside tasks: retries, @catch, @environment, reports, and the entry's cost."""
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
