"""The user-facing surfaces on a Kestra server: ``python flow.py kestra ...`` and
``Deployer(...).kestra(...)``; and that the password never leaks anywhere we write."""
import glob
import os
import time

import pytest

import flowrunner as fr
import kestra_e2e as ke
from metaflow_extensions.orchestrators.plugins.kestra.deployment import run_id

# Same xdist group as the LinearFlow e2e tests: two workers upserting one flow id at once made
# the real 1.3.31 engine list the namespace without it (seen once in CI).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("linear")]


@pytest.fixture(scope="module", params=[p for p in ke.server_params() if p.id != "kestra1"])
def server(request):
    with ke.start_server(request.param) as srv:
        yield srv


def _no_password(*texts):
    for text in texts:
        assert ke.PASSWORD not in (text or "")


def test_cli_run_status_list_logs(server, tmp_path):
    worker = "--worker-python=%s" % ke.WORKER_PYTHON
    compiled = tmp_path / "switch.yaml"
    ke.flow_cli("switch", "compile", str(compiled), server=server)
    run = ke.flow_cli("switch", "run", "--wait", worker, server=server)
    assert "ended SUCCESS" in run.stderr + run.stdout
    rid = next(w for w in (run.stdout + run.stderr).split() if w.startswith("SwitchFlow/kestra-")).split("/")[1]
    status = ke.flow_cli("switch", "status", rid, server=server)
    assert status.stdout.startswith("%s SUCCEEDED" % rid) and "merge: SUCCESS" in status.stdout
    listed = ke.flow_cli("switch", "list-runs", server=server)
    assert rid in listed.stdout
    logs = ke.flow_cli("switch", "logs", rid, "--step", "end", server=server)
    assert "result:" in logs.stdout
    assert fr.client_run("SwitchFlow", rid).successful
    fr.assert_task_logs_saved("switch", "SwitchFlow", rid, "end", "stdout", "result:")
    _no_password(compiled.read_text(), run.stdout, run.stderr, status.stdout, listed.stdout, logs.stdout)
    with server.client() as client:
        _no_password(*(e["message"] for e in client.logs(rid[len("kestra-"):])))


def test_cli_status_and_logs_reach_steps_inside_foreach_iterations(server):
    """2.x Loop iterations are executions of their own, absent from the run's task runs
    (Execution.loopExecution@v2.0.0): status and logs still show every body task."""
    run = ke.flow_cli("nested_foreach", "run", "--wait", "--worker-python=%s" % ke.WORKER_PYTHON, server=server)
    rid = next(w for w in (run.stdout + run.stderr).split() if w.startswith("NestedForeachFlow/kestra-")).split("/")[1]
    status = ke.flow_cli("nested_foreach", "status", rid, server=server).stdout
    plan = fr.load_plan("nested_foreach")
    body_tasks = len(fr.tasks_by_position(plan.flow_name, rid))
    step_lines = [line for line in status.splitlines()[1:] if line.strip().endswith(": SUCCESS")]
    assert len(step_lines) == body_tasks, status  # every Metaflow task (the run's init runs in the first)


FAILING_FOREACH = fr.FAILING_FOREACH


def test_cli_wait_names_a_step_that_failed_inside_an_iteration(request, server, tmp_path):
    ke.known_real_2x_defect(request, server, "a Loop iteration that FAILED does not fail the Loop: join and end "
                                             "run and the execution ends SUCCESS")
    proc = ke.run_flow_file(server, ke.flow_file(server, tmp_path, "fail_in_foreach", FAILING_FOREACH))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Step body failed" in out and "boom in iteration 1" in out, out[-3000:]


def test_cards_are_found_where_metaflow_looks(server, tmp_path):
    path = ke.flow_file(server, tmp_path, "card_flow", fr.CARD_FLOW)
    proc = ke.run_flow_file(server, path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    rid = next(w for w in (proc.stdout + proc.stderr).split() if w.startswith("CardFlow/kestra-")).split("/")[1]
    fr.assert_card_found(path, rid)


def test_cli_trigger_with_typed_and_run_params(server):
    ke.flow_cli("linear", "create", "--worker-python=%s" % ke.WORKER_PYTHON, server=server)
    proc = ke.flow_cli("linear", "trigger", "--alpha", "9", "--run-param", "greeting=hey {{ x }}",
                       "--run-param", "flag=1", "--wait", server=server)
    rid = next(w for w in (proc.stdout + proc.stderr).split() if w.startswith("LinearFlow/kestra-")).split("/")[1]
    result = fr.client_run("LinearFlow", rid).data.result
    assert result["alpha"] == 9 and result["greeting"] == "hey {{ x }}" and result["flag"] is True
    fr.assert_bad_inputs_refused(lambda *args: ke.flow_cli("linear", *args, server=server, check=False))


def test_big_parameter_values_arrive(server):
    fr.assert_big_values_arrive(lambda *args: ke.flow_cli("linear", args[0], "--worker-python=%s" % ke.WORKER_PYTHON, *args[1:], server=server,
                                                           check=False), "LinearFlow")


def test_a_name_owned_by_another_flow_is_never_silently_replaced(server):
    """Issue 18, item 2: the deployment records which Metaflow flow owns it."""
    ke.flow_cli("linear", "create", "--name", "shared-name", "--worker-python=%s" % ke.WORKER_PYTHON, server=server)
    other = ke.flow_cli("switch", "create", "--name", "shared-name", "--worker-python=%s" % ke.WORKER_PYTHON, server=server, check=False)
    out = other.stdout + other.stderr
    assert other.returncode != 0 and "belongs to Metaflow flow LinearFlow" in out and "Traceback" not in out, out
    assert ke.flow_cli("linear", "create", "--name", "shared-name", "--worker-python=%s" % ke.WORKER_PYTHON, server=server).returncode == 0


def test_cli_failure_shows_the_step_error_and_exit_code(server):
    proc = ke.flow_cli("failing", "run", "--wait", "--worker-python=%s" % ke.WORKER_PYTHON, server=server, check=False)
    assert proc.returncode != 0
    assert "boom from failing step" in proc.stdout + proc.stderr and "ended FAILED" in proc.stdout + proc.stderr
    rid = next(w for w in (proc.stdout + proc.stderr).split() if w.startswith("FailingFlow/kestra-")).split("/")[1]
    status = ke.flow_cli("failing", "status", rid, server=server).stdout
    assert "Step explode failed:" in status and "boom from failing step" in status, status
    fr.assert_task_logs_saved("failing", "FailingFlow", rid, "explode", "stderr", "Traceback",
                              "boom from failing step")


SLEEPY = fr.CARD_FLOW.replace("from metaflow.cards import Markdown", "import time").replace(
    'current.card["report"].append(Markdown("# card from the engine"))', "time.sleep(30)").replace(
    '@card(type="blank", id="report")', "").replace("CardFlow", "SleepyFlow")


def test_a_workflow_timeout_ending_says_so(server, tmp_path):
    """Issue 18, item 5: a run stopped by --workflow-timeout ends with one line naming it."""
    path = ke.flow_file(server, tmp_path, "sleepy_flow", SLEEPY)
    proc = ke.run_flow_file(server, path, "--workflow-timeout", "3")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "exceeded its --workflow-timeout of 3s" in out, out[-3000:]


def test_failures_end_with_the_step_and_its_reason(server):
    proc = ke.flow_cli("failing", "run", "--wait", "--worker-python=%s" % ke.WORKER_PYTHON, server=server, check=False)
    out = proc.stdout + proc.stderr
    assert "Step explode failed: RuntimeError: boom from failing step" in out
    assert "ended FAILED: explode: RuntimeError: boom from failing step" in out, out[-2000:]


def test_event_webhook_keys_are_random_kept_and_found_by_send_event(server, monkeypatch):
    """Issue 18, item 8: without KESTRA_WEBHOOK_SECRET the key is random (nobody can derive it
    from public names), the same after a re-deploy, and `send-event` finds it with credentials."""
    from metaflow_extensions.orchestrators.plugins.kestra.compiler import KestraTarget, webhook_key

    monkeypatch.delenv("KESTRA_WEBHOOK_SECRET", raising=False)
    keys = []
    for _ in range(2):
        ke.flow_cli("triggered", "create", "--worker-python=%s" % ke.WORKER_PYTHON, server=server)
        with server.client() as client:
            flow = client.get_flow("metaflow", "TriggeredFlow")
        keys.append([t["key"] for t in flow["triggers"] if t["type"].endswith("Webhook")])
    assert keys[0] == keys[1] and len(keys[0]) == 1
    derived = webhook_key(KestraTarget(namespace="metaflow", flow_id="TriggeredFlow"), "data_ready")
    assert keys[0][0] != derived and keys[0][0].startswith("mf-") and len(keys[0][0]) == 43
    sent = ke.flow_cli("triggered", "send-event", "data_ready", "--payload", "dataset=s3://b/k.csv", server=server)
    assert "started" in sent.stdout + sent.stderr, sent.stdout + sent.stderr


def test_hostile_values_arrive_identical_on_every_start_path(server, tmp_path):
    """Issue 18: 305 hostile values (template syntax, shell, YAML/JSON specials, controls,
    Unicode breaks, 30 kB) through every start path; then no credential anywhere we write."""
    import hostile
    from metaflow import Deployer

    path = ke.flow_file(server, tmp_path, "hostile_corpus", hostile.flow_source("HostileCorpusFlow", hostile.packed()))

    def start_with_defaults():
        with server.client() as client:
            execution = client.trigger("metaflow", "HostileCorpusFlow", {})
            ended = client.wait(execution["id"], max_wait=600, poll=0.3)
        assert ended["state"]["current"] == "SUCCESS"
        return run_id(ended["id"])

    def deployer_trigger(params):
        deployed = Deployer(str(path), show_output=False, env={**os.environ, **server.env()}).kestra().create(
            worker_python=ke.WORKER_PYTHON)
        triggered = deployed.trigger(**params)
        assert triggered.wait_for_completion(check_interval=1, timeout=600) == "SUCCEEDED"
        return triggered.run

    def rid_of(out):
        return next(w for w in out.split() if w.startswith("HostileCorpusFlow/kestra-")).split("/")[1]

    outputs = hostile.run_every_start_path("kestra", path, server.env(), start_with_defaults,
                                           ["--worker-python=%s" % ke.WORKER_PYTHON], deployer_trigger,
                                           "HostileCorpusFlow", rid_of)
    with server.client() as client:
        compiled = client.get_flow("metaflow", "HostileCorpusFlow")["source"]
    roots = [os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"], os.environ["METAFLOW_HOME"], str(tmp_path)]
    hostile.assert_no_credential_anywhere(ke.PASSWORD if not server.real else (server.password or "-no-password-"),
                                          roots, outputs + [compiled], str(tmp_path))


def test_cli_wrong_password_is_one_clear_line(server):
    proc = ke.flow_cli("linear", "list-runs", server=server, check=False, env={"KESTRA_PASSWORD": "wrong-pw"})
    assert proc.returncode != 0 and "refused the credentials" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "wrong-pw" not in proc.stdout + proc.stderr


def test_deployer_create_trigger_status_and_rebuild(server, tmp_path, monkeypatch):
    from metaflow import DeployedFlow, Deployer

    for key in ("KESTRA_USER", "KESTRA_PASSWORD", "KESTRA_HOST"):
        monkeypatch.delenv(key, raising=False)
    deployer = Deployer(fr.example("linear"), show_output=False).kestra(
        kestra_host=server.url, kestra_user=server.user, kestra_password=server.password)
    deployed = deployer.create(worker_python=ke.WORKER_PYTHON, tags=["deployer-test"])
    assert deployed.name == "LinearFlow" and ke.PASSWORD not in repr(deployer.deployer_kwargs)
    triggered = deployed.trigger(alpha=4, greeting="from deployer")
    assert triggered.wait_for_completion(check_interval=1, timeout=300) == "SUCCEEDED"
    assert triggered.status == "SUCCEEDED"
    run = triggered.run
    assert run.successful and run.data.result["alpha"] == 4 and "deployer-test" in run.tags
    # Rebuilt from the deployer instance: same server and credentials, none in the environment.
    rebuilt_here = deployer.from_deployment("LinearFlow")
    assert rebuilt_here.trigger(alpha=6).wait_for_completion(check_interval=1, timeout=300) == "SUCCEEDED"
    monkeypatch.setenv("KESTRA_HOST", server.url)
    monkeypatch.setenv("KESTRA_USER", server.user)
    monkeypatch.setenv("KESTRA_PASSWORD", server.password)
    rebuilt = DeployedFlow.from_kestra("LinearFlow")
    assert rebuilt.flow_name == "LinearFlow"
    assert "LinearFlow" in [d.name for d in DeployedFlow.list_kestra("LinearFlow")]
    again = DeployedFlow.get_triggered_kestra_run("LinearFlow", run.id)
    assert again.status == "SUCCEEDED" and again.run.id == run.id


def test_deployer_terminate_aborts_a_running_run(server):
    from metaflow import Deployer

    deployed = Deployer(fr.example("timeout_fail"), show_output=False, env=server.env()).kestra().create(
        worker_python=ke.WORKER_PYTHON)
    triggered = deployed.trigger()
    assert triggered.terminate()
    deadline = time.time() + 60
    while triggered.status not in ("ABORTED", "FAILED") and time.time() < deadline:
        time.sleep(0.5)
    assert triggered.status == "ABORTED"


def test_datastore_and_attribute_files_hold_no_password(server):
    root = os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"]
    for path in glob.glob(os.path.join(root, "**", "*"), recursive=True):
        if os.path.isfile(path) and os.path.getsize(path) < 2_000_000:
            with open(path, "rb") as f:
                assert ke.PASSWORD.encode() not in f.read(), path


def test_flow_trigger_starts_the_downstream_flow(server):
    ke.deploy(server, "on_finish")
    execution = ke.run(server, "linear")
    assert execution["state"]["current"] == "SUCCESS"
    deadline = time.time() + 120
    with server.client() as client:
        while time.time() < deadline:
            runs = client.list_executions("metaflow", "OnFinishFlow")
            if runs and runs[0]["state"]["current"] in ("SUCCESS", "FAILED"):
                break
            time.sleep(0.5)
    assert runs and runs[0]["state"]["current"] == "SUCCESS"
    assert fr.client_run("OnFinishFlow", run_id(runs[0]["id"])).successful


FLAKY_FLOW = '''
import os
from metaflow import FlowSpec, current, retry, step


MARKER = @MARKER@  # in the test's directory: the flow itself runs from its code package


class ResumableFlow(FlowSpec):
    """Fails in `middle` until the marker file exists."""

    @step
    def start(self):
        self.value = 41
        self.next(self.middle)

    @retry(times=1, minutes_between_retries=0)
    @step
    def middle(self):
        if not os.path.exists(MARKER):
            raise RuntimeError("marker missing")
        self.value += 1
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        print("value", self.value)


if __name__ == "__main__":
    ResumableFlow()
'''


def test_resume_in_place_reruns_only_the_failed_steps(request, server, tmp_path):
    ke.known_real_2x_defect(request, server, "after a restart the task run lists 2 attempts, not 3 (the user "
                                             "code does run again as attempt 2)")
    from metaflow import Deployer

    marker = tmp_path / "marker"
    flow = ke.flow_file(server, tmp_path, "resumable", FLAKY_FLOW.replace("@MARKER@", repr(str(marker))))
    deployed = Deployer(str(flow), show_output=False, env=server.env()).kestra().create(worker_python=ke.WORKER_PYTHON)
    first = deployed.trigger()
    assert first.wait_for_completion(check_interval=1, timeout=300) == "FAILED"
    marker.write_text("ok")
    resumed = deployed.resume(origin_run_id=first.run.id, in_place=True)
    assert resumed.wait_for_completion(check_interval=1, timeout=300) == "SUCCEEDED"
    run = resumed.run
    assert run.id == first.run.id and run.successful
    # Kestra keeps the attempt history across a restart: the re-run is attempt 2, past
    # the @retry budget, and still runs the user's code.
    assert run["end"].task.data.value == 42 and run["middle"].task.data.attempt == 2
    with server.client() as client:
        attempts = {r["taskId"]: len(r["attempts"]) for r in client.task_runs(resumed.execution_id)}
    assert attempts["start"] == 1 and attempts["middle"] == 3


def test_from_deployment_finds_a_project_flow_by_its_flow_name(server, monkeypatch):
    """A @project flow is deployed as ``project.branch.Flow``; the Metaflow flow name finds
    it when it has one deployment, and its full id always does."""
    from metaflow import DeployedFlow

    fid = ke.deploy(server, "project_flow")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    plan = fr.load_plan("project_flow")
    by_flow_name = DeployedFlow.from_kestra(plan.flow_name)
    assert by_flow_name.deployer.name == fid and by_flow_name.deployer.flow_name == plan.flow_name
    assert DeployedFlow.from_kestra(fid).deployer.name == fid
    with pytest.raises(LookupError):
        DeployedFlow.from_kestra("NoSuchFlowAnywhere")
