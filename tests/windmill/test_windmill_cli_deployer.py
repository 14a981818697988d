"""The user-facing surfaces on a Windmill server: ``python flow.py windmill ...`` and
``Deployer(...).windmill(...)``; the failure paths (a failing step, retries with their
attempt numbers, a timeout, a failure inside a foreach iteration); user text that must
arrive verbatim; and that the token never leaks anywhere we write."""
import glob
import json
import os
import subprocess
import sys
import time

import pytest

import flowrunner as fr
import windmill_e2e as we
from metaflow_extensions.orchestrators.plugins.runtime.ids import run_id as engine_run_id

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("wm-linear")]
WORKER = "--worker-python=%s" % we.WORKER_PYTHON


@pytest.fixture(scope="module", params=we.server_params())
def server(request):
    with we.start_server(request.param) as srv:
        yield srv


def _no_token(server, *texts):
    for text in texts:
        assert server.token not in (text or "")


def _run_id(proc, flow_name):
    out = proc.stdout + proc.stderr
    return next(w for w in out.split() if w.startswith(flow_name + "/windmill-")).split("/")[1]


def test_cli_run_status_list_logs(server, tmp_path):
    compiled = tmp_path / "switch.json"
    we.flow_cli("switch", "compile", str(compiled), server=server)
    run = we.flow_cli("switch", "run", "--wait", WORKER, server=server)
    assert "ended SUCCESS" in run.stderr + run.stdout
    rid = _run_id(run, "SwitchFlow")
    status = we.flow_cli("switch", "status", rid, server=server)
    assert status.stdout.startswith("%s SUCCEEDED" % rid) and "merge: SUCCESS" in status.stdout
    assert we.flow_cli("switch", "status", rid.split("-", 1)[1], server=server).stdout == status.stdout
    listed = we.flow_cli("switch", "list-runs", server=server)
    assert rid in listed.stdout
    logs = we.flow_cli("switch", "logs", rid, "--step", "end", server=server)
    assert "end" in logs.stdout and logs.stdout.strip()
    assert fr.client_run("SwitchFlow", rid).successful
    fr.assert_task_logs_saved("switch", "SwitchFlow", rid, "end", "stdout", "result:")
    _no_token(server, compiled.read_text(), run.stdout, run.stderr, status.stdout, listed.stdout, logs.stdout)


def test_cli_status_shows_every_task_inside_foreach_iterations(server):
    run = we.flow_cli("nested_foreach", "run", "--wait", WORKER, server=server)
    rid = _run_id(run, "NestedForeachFlow")
    status = we.flow_cli("nested_foreach", "status", rid, server=server).stdout
    tasks = len(fr.tasks_by_position("NestedForeachFlow", rid))
    step_lines = [line for line in status.splitlines()[1:] if line.strip().endswith(": SUCCESS")]
    assert len(step_lines) == tasks, status


def test_cli_trigger_with_typed_and_run_params(server):
    we.flow_cli("linear", "create", WORKER, server=server)
    proc = we.flow_cli("linear", "trigger", "--alpha", "9", "--run-param", "greeting=hey {{ x }} $(id)",
                       "--run-param", 'config_json={"k": [5, 1]}', "--run-param", "flag=yes", "--wait", server=server)
    result = fr.client_run("LinearFlow", _run_id(proc, "LinearFlow")).data.result
    assert result["alpha"] == 9 and result["greeting"] == "hey {{ x }} $(id)" and result["flag"] is True
    assert result["config_json"] == {"k": [5, 1]}
    fr.assert_bad_inputs_refused(lambda *args: we.flow_cli("linear", *args, server=server, check=False))


def test_big_parameter_values_arrive(server):
    fr.assert_big_values_arrive(lambda *args: we.flow_cli("linear", args[0], WORKER, *args[1:], server=server,
                                                           check=False), "LinearFlow")


def test_a_name_owned_by_another_flow_is_never_silently_replaced(server):
    """Issue 18, item 2: the deployment records which Metaflow flow owns it."""
    we.flow_cli("linear", "create", "--name", "shared-name", WORKER, server=server)
    other = we.flow_cli("switch", "create", "--name", "shared-name", WORKER, server=server, check=False)
    out = other.stdout + other.stderr
    assert other.returncode != 0 and "belongs to Metaflow flow LinearFlow" in out and "Traceback" not in out, out
    assert we.flow_cli("linear", "create", "--name", "shared-name", WORKER, server=server).returncode == 0


def test_cli_failure_shows_the_step_error_and_exit_code(server):
    proc = we.flow_cli("failing", "run", "--wait", WORKER, server=server, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "boom from failing step" in out and "ended FAILURE" in out, out[-3000:]
    assert "Step explode failed: RuntimeError: boom from failing step" in out
    assert "ended FAILURE: explode: RuntimeError: boom from failing step" in out
    rid = _run_id(proc, "FailingFlow")
    status = we.flow_cli("failing", "status", rid, server=server, check=False).stdout
    assert "explode: FAILED" in status and "end:" not in status
    assert "Step explode failed:" in status and "boom from failing step" in status, status
    fr.assert_task_logs_saved("failing", "FailingFlow", rid, "explode", "stderr", "Traceback", "boom from failing step")


def test_hostile_values_arrive_identical_on_every_start_path(server, tmp_path):
    """Issue 18: 305 hostile values (template syntax, shell, YAML/JSON specials, controls,
    Unicode breaks, 30 kB) through every start path; then no credential anywhere we write."""
    import hostile
    from metaflow import Deployer

    path = tmp_path / "hostile_corpus.py"
    path.write_text(hostile.flow_source("HostileCorpusFlow", hostile.packed()))

    def start_with_defaults():
        with server.client() as client:
            job_id = client.run_flow("f/metaflow/HostileCorpusFlow", {})
            deadline = time.monotonic() + 600
            while client.get_job(job_id).get("type") != "CompletedJob" and time.monotonic() < deadline:
                time.sleep(0.3)
            assert client.get_job(job_id)["success"] is True
        return engine_run_id("windmill", job_id)

    def deployer_trigger(params):
        deployed = Deployer(str(path), show_output=False, env={**os.environ, **server.env()}).windmill().create(
            worker_python=we.WORKER_PYTHON)
        triggered = deployed.trigger(**params)
        assert triggered.wait_for_completion(check_interval=1, timeout=600) == "SUCCEEDED"
        return triggered.run

    outputs = hostile.run_every_start_path("windmill", path, server.env(), start_with_defaults, [WORKER],
                                           deployer_trigger, "HostileCorpusFlow",
                                           lambda out: _run_id(type("P", (), {"stdout": out, "stderr": ""}),
                                                               "HostileCorpusFlow"))
    if not server.real:
        with server.client() as client:
            compiled = json.dumps(client.get_flow("f/metaflow/HostileCorpusFlow"))
        hostile.assert_no_credential_anywhere(server.token, [os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"],
                                                             os.environ["METAFLOW_HOME"], str(tmp_path)],
                                              outputs + [compiled], str(tmp_path))


def test_cli_wrong_token_is_one_clear_line(server):
    proc = we.flow_cli("linear", "list-runs", server=server, check=False, env={"WINDMILL_TOKEN": "wrong-tok"})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Windmill" in out and "Traceback" not in proc.stderr and "wrong-tok" not in out


FAILING_FOREACH = fr.FAILING_FOREACH


def run_flow_file(server, path, *args):
    return subprocess.run([sys.executable, str(path), "--no-pylint", "windmill", "run", "--wait", WORKER, *args],
                          capture_output=True, text=True, env={**os.environ, **server.env()}, timeout=600)


def test_a_failed_foreach_iteration_fails_the_run_and_is_named(server, tmp_path):
    """The loop fails once its iterations are done (errata 2), and the run with it."""
    path = tmp_path / "fail_in_foreach.py"
    path.write_text(FAILING_FOREACH)
    proc = run_flow_file(server, path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "boom in iteration 1" in out, out[-3000:]
    run = fr.client_run("FailInForeachFlow", _run_id(proc, "FailInForeachFlow"))
    assert not run.successful and "join" not in [s.id for s in run]


def test_cards_are_found_where_metaflow_looks(server, tmp_path):
    path = tmp_path / "card_flow.py"
    path.write_text(fr.CARD_FLOW)
    proc = run_flow_file(server, path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    fr.assert_card_found(path, _run_id(proc, "CardFlow"))


def test_retries_are_attempts_0_1_2_and_catch_takes_over(server):
    job = we.run(server, "decorators")
    assert job["success"], job.get("result")
    run = fr.client_run("DecoratorsFlow", engine_run_id("windmill", job["id"]))
    assert run["flaky"].task.data.attempt_seen == 2
    assert run["checked"].task.data.caught_type == "builtins.ValueError"
    status = we.flow_cli("decorators", "status", run.id, server=server).stdout
    assert "flaky: SUCCESS (attempt 3/3)" in status, status  # what `status` / `--wait` show of retries
    with server.client() as client:
        flaky = [j for position, m, j in client.flow_jobs(job) if m["id"] == "flaky"]
        result = client.get_job(flaky[-1]["id"])["result"]
    assert result["pathspec"] == "DecoratorsFlow/%s/flaky/%s" % (run.id, result["task_id"])
    assert "attempt_seen" in result["artifacts"] and "Task(" in result["snippet"]


def test_timeout_kills_the_step(server):
    job = we.run(server, "timeout_fail", max_wait=180)
    assert job["type"] == "CompletedJob" and not job["success"]
    run = fr.client_run("TimeoutFlow" if False else fr.load_plan("timeout_fail", engine="windmill").flow_name,
                        engine_run_id("windmill", job["id"]))
    assert "end" not in [s.id for s in run]


TEMPLATE_TEXT_FLOW = '''
import os
from metaflow import Config, FlowSpec, JSONType, Parameter, current, environment, step


class TemplateTextFlow(FlowSpec):
    """Docstring {{ x }} $(id) `id` results.mf__init"""
    text = Parameter("text", default="x", help="$(id) {{ inputs }}")
    payload = Parameter("payload", type=JSONType, default='{"d": null}')
    cfg = Config("cfg", default_value={"k": "$(id) ${HOME}", "n": None})

    @environment(vars={"TRICKY": "$(id) `id` ${HOME} '\\" ;", "PLAIN": "plain value"})
    @step
    def start(self):
        self.tricky = os.environ["TRICKY"]
        self.plain = os.environ["PLAIN"]
        self.tags = sorted(current.tags)
        self.cfg_k = self.cfg["k"]
        self.cfg_n = "n" in self.cfg and self.cfg["n"] is None
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TemplateTextFlow()
'''


def test_user_text_arrives_verbatim(server, tmp_path):
    value = "{{ x }} ${HOME} $(id) `id` '\" ; exit 1"
    tag = "$(touch /tmp/pwned-by-tag)"
    path = tmp_path / "template_text.py"
    path.write_text(TEMPLATE_TEXT_FLOW)
    payload = '{"x": null, "y": [null, 1], "z": {"w": null}}'
    proc = run_flow_file(server, path, "--tag", tag, "--run-param", "text=" + value, "--run-param",
                         "payload=" + payload)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    data = fr.client_run("TemplateTextFlow", _run_id(proc, "TemplateTextFlow"))["start"].task.data
    assert data.text == value and data.tricky == "$(id) `id` ${HOME} '\" ;" and data.plain == "plain value"
    assert tag in data.tags and data.cfg_k == "$(id) ${HOME}" and data.cfg_n is True
    assert data.payload == {"x": None, "y": [None, 1], "z": {"w": None}}
    assert not os.path.exists("/tmp/pwned-by-tag")


def test_deployer_create_trigger_status_and_rebuild(server, monkeypatch):
    from metaflow import DeployedFlow, Deployer

    for key in ("WINDMILL_HOST", "WINDMILL_TOKEN", "WINDMILL_WORKSPACE"):
        monkeypatch.delenv(key, raising=False)
    deployer = Deployer(fr.example("linear"), show_output=False).windmill(
        windmill_host=server.url, windmill_token=server.token, windmill_workspace=server.workspace)
    deployed = deployer.create(worker_python=we.WORKER_PYTHON, tags=["deployer-test"])
    assert deployed.name == "f/metaflow/LinearFlow" and server.token not in repr(deployer.deployer_kwargs)
    triggered = deployed.trigger(alpha=4, greeting="from deployer")
    assert triggered.wait_for_completion(check_interval=1, timeout=300) == "SUCCEEDED"
    assert triggered.status == "SUCCEEDED"
    run = triggered.run
    assert run.successful and run.data.result["alpha"] == 4 and "deployer-test" in run.tags
    assert triggered.windmill_ui.startswith(server.url) and triggered.job_id in triggered.windmill_ui
    rebuilt_here = deployer.from_deployment("f/metaflow/LinearFlow")
    assert rebuilt_here.trigger(alpha=6).wait_for_completion(check_interval=1, timeout=300) == "SUCCEEDED"
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    assert DeployedFlow.from_windmill("LinearFlow").flow_name == "LinearFlow"
    assert "f/metaflow/LinearFlow" in [d.name for d in DeployedFlow.list_windmill("LinearFlow")]
    again = DeployedFlow.get_triggered_windmill_run("f/metaflow/LinearFlow", run.id)
    assert again.status == "SUCCEEDED" and again.run.id == run.id
    # Deployer failures are clear exceptions carrying the CLI's message (issue 18, item 6).
    with pytest.raises(ValueError, match="NUL character"):
        deployed.trigger(greeting="a\x00b")
    wrong = Deployer(fr.example("linear"), show_output=False).windmill(
        windmill_host=server.url, windmill_token="wrong-tok", windmill_workspace=server.workspace)
    with pytest.raises(RuntimeError) as failed:
        wrong.create(worker_python=we.WORKER_PYTHON)
    assert "Windmill" in str(failed.value) and "wrong-tok" not in str(failed.value)


def test_deployer_terminate_aborts_a_running_run(server):
    from metaflow import Deployer

    deployed = Deployer(fr.example("timeout_fail"), show_output=False, env=server.env()).windmill().create(
        worker_python=we.WORKER_PYTHON)
    triggered = deployed.trigger()
    assert triggered.terminate()
    deadline = time.time() + 60
    while triggered.status not in ("ABORTED", "FAILED") and time.time() < deadline:
        time.sleep(0.5)
    assert triggered.status == "ABORTED"


def test_from_deployment_finds_a_project_flow_by_its_flow_name(server, monkeypatch):
    from metaflow import DeployedFlow

    path = we.deploy(server, "project_flow")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    plan = fr.load_plan("project_flow", engine="windmill")
    found = DeployedFlow.from_windmill(plan.flow_name)
    assert found.deployer.name == path and found.deployer.flow_name == plan.flow_name
    assert DeployedFlow.from_windmill(path).deployer.name == path
    with pytest.raises(LookupError):
        DeployedFlow.from_windmill("NoSuchFlowAnywhere")


def test_schedule_is_created_updated_and_removed(server):
    we.flow_cli("scheduled_cron", "create", WORKER, server=server)
    plan = fr.load_plan("scheduled_cron", engine="windmill")
    path = "f/metaflow/" + plan.flow_name
    with server.client() as client:
        schedule = client.get_schedule(path)
        assert schedule["schedule"].split()[0] == "0" and schedule["cron_version"] == "v2"
        assert schedule["is_flow"] and schedule["script_path"] == path


def test_datastore_and_attribute_files_hold_no_token(server):
    root = os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"]
    for path in glob.glob(os.path.join(root, "**", "*"), recursive=True):
        if os.path.isfile(path) and os.path.getsize(path) < 2_000_000:
            with open(path, "rb") as f:
                assert server.token.encode() not in f.read(), path


def test_send_event_starts_the_flows_listening_for_it(server):
    we.flow_cli("triggered", "create", WORKER, server=server)
    sent = we.flow_cli("triggered", "send-event", "data_ready", "--payload", "dataset=s3://bucket/new $(id).csv",
                       server=server)
    out = sent.stdout + sent.stderr
    assert "started f/metaflow/TriggeredFlow" in out, out
    rid = _run_id_in(out)
    with server.client() as client:
        job = client.wait(rid.split("-", 1)[1], max_wait=300, poll=0.3)
    assert job["success"], job.get("result")
    assert fr.client_run("TriggeredFlow", rid)["start"].task.data.dataset == "s3://bucket/new $(id).csv"
    none = we.flow_cli("triggered", "send-event", "no_such_event", server=server)
    assert "No deployed flow in Windmill folder f/metaflow/" in none.stdout + none.stderr


def _run_id_in(text):
    return next(w.rstrip(").") for w in text.split() if w.startswith("windmill-"))


def test_flow_trigger_starts_the_downstream_flow(server):
    """Windmill has no flow-finish trigger: the upstream run's end step module, once the step
    succeeded, starts every flow deployed with @trigger_on_finish on it, found then; the
    module's result holds the step's report and what it started."""
    path = we.deploy(server, "on_finish")
    try:
        upstream = we.run(server, "linear")
        assert upstream["success"]
        deadline = time.time() + 120
        with server.client() as client:
            while time.time() < deadline:
                jobs = client.list_flow_jobs(path, 5)
                if jobs and jobs[0].get("type") == "CompletedJob":
                    break
                time.sleep(0.5)
            finished = [j for p, m, j in client.flow_jobs(upstream) if m["id"] == "end"]
            note = client.job_logs(finished[0]["id"])
            result = client.get_job(finished[0]["id"])["result"]
    finally:
        with server.client() as client:
            client.delete_flow(path)
    assert jobs and jobs[0]["success"], jobs
    downstream = fr.client_run("OnFinishFlow", engine_run_id("windmill", jobs[0]["id"]))
    assert downstream.successful
    assert "started %s" % path in note
    assert result["pathspec"].endswith("/end/t") and [s["flow"] for s in result["started"]] == [path]
