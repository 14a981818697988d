"""REST surface (kestra.md §12): configs, auth, both path forms, flow CRUD/validate, trigger with
multipart inputs and labels, get/list/search executions, logs, kill, restart (1.x and 2.x)."""
from __future__ import annotations

import time

import httpx
import pytest

from kestra_helpers import (PROCESS, Client, Emulator, error_text, flow, messages, one, runs, state_of,
                            wait_task_running, STARTED)

AUTH = ("admin@example.com", "s3cret")


@pytest.fixture(scope="module", params=[1, 2])
def emu(request, tmp_path_factory):
    e = Emulator(request.param, str(tmp_path_factory.mktemp("kapi")), auth=AUTH)
    yield e
    e.close()


def action(emu, execution_id, name):
    """1.x `/{id}/kill|restart`, 2.x `/{id}/actions/kill|restart` (kestra.md §14)."""
    infix = "/actions" if emu.version >= 2 else ""
    method = "DELETE" if name == "kill" else "POST"
    return emu.client.http.request(method, "/api/v1/main/executions/%s%s/%s" % (execution_id, infix, name))


HELLO = """
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def test_configs_reports_version_and_is_open(emu):
    r = httpx.get(emu.url + "/api/v1/configs")
    assert r.status_code == 200
    assert r.json()["version"].split(".")[0] == str(emu.version)


def test_basic_auth_enforced(emu):
    # emu.auth, not AUTH: a real server has its own credentials (case fix: it used AUTH on the real engine).
    assert httpx.get(emu.url + "/api/v1/main/flows/conformance/nope").status_code == 401
    assert httpx.get(emu.url + "/api/v1/main/flows/conformance/nope", auth=(emu.auth[0], "bad")).status_code == 401
    assert httpx.get(emu.url + "/api/v1/main/flows/conformance/nope", auth=emu.auth).status_code == 404


def test_both_path_forms(emu):
    emu.client.deploy_ok(flow("paths", HELLO))
    short = Client(emu.url, auth=emu.auth, prefix="/api/v1")  # the server's credentials (case fix, as above)
    try:
        assert short.http.get("/api/v1/flows/conformance/paths").status_code == 200
        exe = short.run("conformance", "paths")
        assert exe["state"]["current"] == "SUCCESS"
        assert emu.client.execution(exe["id"])["id"] == exe["id"]
    finally:
        short.close()
    assert emu.client.http.get("/api/v1/othertenant/flows/conformance/paths").status_code == 404


def test_flow_crud_and_revisions(emu):
    src = flow("crud", HELLO)
    created = emu.client.deploy_ok(src)
    assert created["revision"] == 1 and created["source"] == src and created["namespace"] == "conformance"
    dup = emu.client.deploy(src)
    # 1.x: a constraint violation (422); 2.0: a conflict (409, seen on the real 2.0.0 engine; case fix).
    assert dup.status_code == (409 if emu.version >= 2 else 422) and "already exists" in error_text(dup)
    updated = emu.client.http.put("/api/v1/main/flows/conformance/crud", content=src.replace("hi", "hey"),
                                  headers={"Content-Type": "application/x-yaml"})
    assert updated.status_code == 200 and updated.json()["revision"] == 2
    got = emu.client.http.get("/api/v1/main/flows/conformance/crud", params={"source": "true"}).json()
    assert "hey" in got["source"]
    moved = emu.client.http.put("/api/v1/main/flows/conformance/crud", content=src.replace("id: crud", "id: other"),
                                headers={"Content-Type": "application/x-yaml"})
    assert moved.status_code == 422
    assert emu.client.http.put("/api/v1/main/flows/conformance/missing", content=flow("missing", HELLO),
                               headers={"Content-Type": "application/x-yaml"}).status_code == 404
    assert emu.client.http.delete("/api/v1/main/flows/conformance/crud").status_code == 204
    assert emu.client.http.get("/api/v1/main/flows/conformance/crud").status_code == 404


def test_invalid_flow_gives_422_with_reason(emu):
    r = emu.client.deploy(flow("bad", HELLO + "    surprise: 1\n"))
    assert r.status_code == 422
    body = r.json()
    assert 'Unrecognized field "surprise"' in error_text(r)
    # 1.x JsonError `_embedded.errors`, 2.x RFC 9457 `errors` (case fix: it read the 1.x shape on 2.x).
    assert (body["errors"] if emu.version >= 2 else body["_embedded"]["errors"])


def test_validate_endpoint(emu):
    text = flow("ok_one", HELLO) + "\n---\n" + flow("bad_one", HELLO.replace("Log", "Nope"))
    r = emu.client.http.post("/api/v1/main/flows/validate", content=text, headers={"Content-Type": "application/x-yaml"})
    assert r.status_code == 200
    first, second = r.json()
    assert first["index"] == 0 and first.get("constraints") is None and first["flow"] == "ok_one"
    assert second["index"] == 1 and "Invalid type" in second["constraints"]


def test_trigger_unknown_flow_404(emu):
    assert emu.client.trigger("conformance", "does_not_exist").status_code == 404


INPUTS = """
labels: {team: data}
variables: {base: 10}
inputs:
  - {id: i, type: INT}
  - {id: f, type: FLOAT, defaults: 0.5}
  - {id: b, type: %s, defaults: false}
  - {id: s, type: STRING, defaults: "dflt"}
  - {id: j, type: JSON, defaults: '{"k": [1, 2]}'}
  - {id: opt, type: STRING, required: false}
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.i + vars.base }}|{{ inputs.f }}|{{ inputs.b }}|{{ inputs.s }}|{{ inputs.j.k[1] }}|{{ inputs.opt ?? 'none' }}|{{ labels.team }}-{{ labels.run }}"
"""


def test_inputs_types_defaults_labels_variables(emu):
    emu.client.deploy_ok(flow("inputs", INPUTS % ("BOOL",)))
    r = emu.client.trigger("conformance", "inputs", {"i": "5", "b": "TRUE"}, labels=["run:first"], wait=True)
    assert r.status_code == 200, r.text
    exe = r.json()
    assert exe["state"]["current"] == "SUCCESS"
    assert exe["inputs"]["i"] == 5 and exe["inputs"]["b"] is True and exe["inputs"]["j"] == {"k": [1, 2]}
    assert {"key": "team", "value": "data"} in exe["labels"] and {"key": "run", "value": "first"} in exe["labels"]
    value = emu.client.http.get("/api/v1/main/outputs/%s/%s" % (exe["id"], one(exe, "show")["id"])).json()["value"] \
        if emu.version >= 2 else one(exe, "show")["outputs"]["value"]
    assert value == "15|0.5|true|dflt|2|none|data-first"


def test_input_validation_errors(emu):
    emu.client.deploy_ok(flow("inputs_v", INPUTS % ("BOOL",)))
    missing = emu.client.trigger("conformance", "inputs_v", {})
    # Kestra's own wording (FlowInputOutput.java@v1.3.31/@v2.0.0; case fix: it expected "`i`").
    assert missing.status_code == 422 and "Missing required input:i" in error_text(missing)
    bad_int = emu.client.trigger("conformance", "inputs_v", {"i": "1.5"})
    # Integer.valueOf's own message (FlowInputOutput.parseType@v1.3.31/@v2.0.0; case fix: it expected "integer").
    # 1.x: Integer.valueOf's own message (FlowInputOutput.parseType@v1.3.31); 2.0: the conversion
    # service's (seen on the real 2.0.0 engine). Case fix: it expected "integer".
    cause = "Cannot convert value '1.5' to Integer" if emu.version >= 2 else 'For input string: "1.5"'
    assert bad_int.status_code == 422 and "Invalid value for input `i`. Cause: " + cause in error_text(bad_int)
    bad_json = emu.client.trigger("conformance", "inputs_v", {"i": "1", "j": "{nope"})
    assert bad_json.status_code == 422


def test_boolean_input_type_1x(emu):
    src = flow("inputs_boolean", INPUTS % ("BOOLEAN",))
    if emu.version >= 2:
        assert emu.client.deploy(src).status_code == 422
        return
    emu.client.deploy_ok(src)
    exe = emu.client.run("conformance", "inputs_boolean", {"i": "1", "b": "yes"})
    assert exe["inputs"]["b"] is False  # Boolean.valueOf: only "true" is true


def test_get_list_search_executions(emu):
    emu.client.deploy_ok(flow("listed", HELLO))
    ids = [emu.client.run("conformance", "listed")["id"] for _ in range(3)]
    listed = emu.client.http.get("/api/v1/main/executions", params={
        "namespace": "conformance", "flowId": "listed", "page": 1, "size": 2}).json()
    assert listed["total"] == 3 and len(listed["results"]) == 2
    found = emu.client.http.get("/api/v1/main/executions/search", params={
        "filters[namespace][EQUALS]": "conformance", "filters[flowId][EQUALS]": "listed",
        "filters[state][IN]": "SUCCESS"}).json()
    assert sorted(e["id"] for e in found["results"]) == sorted(ids)
    assert emu.client.http.get("/api/v1/main/executions/nope").status_code == 404


def test_logs_filters(emu):
    emu.client.deploy_ok(flow("logging", """
tasks:
  - id: first
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    commands: ["echo out-line", "echo err-line >&2"]
  - id: second
    type: io.kestra.plugin.core.log.Log
    message: second-line
""" % PROCESS))
    exe = emu.client.run("conformance", "logging")
    logs = emu.client.logs(exe["id"])
    by_msg = {e["message"]: e for e in logs}
    assert by_msg["out-line"]["level"] == "INFO" and by_msg["out-line"]["taskId"] == "first"
    assert by_msg["err-line"]["level"] == "ERROR"
    assert messages(emu.client, exe["id"], "second") == ["second-line"]
    assert [e["message"] for e in emu.client.logs(exe["id"], minLevel="ERROR")] == ["err-line"]
    text = emu.client.http.get("/api/v1/main/logs/%s/download" % exe["id"]).text
    assert "out-line" in text and "second-line" in text


SLOW = """
tasks:
  - id: slow
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    commands: ["echo %s", "sleep 30"]
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: unreachable
""" % (PROCESS, STARTED)


def test_kill_running_execution(emu):
    emu.client.deploy_ok(flow("killme", SLOW))
    exe_id = emu.client.trigger("conformance", "killme").json()["id"]
    emu.client.wait(exe_id, states={"RUNNING"})
    wait_task_running(emu.client, exe_id, "slow")
    started = time.monotonic()
    r = action(emu, exe_id, "kill")
    assert r.status_code in (200, 202)
    exe = emu.client.wait(exe_id)
    assert time.monotonic() - started < 5  # the subprocess was really killed
    assert exe["state"]["current"] == "KILLED"
    assert "KILLING" in [h["state"] for h in exe["state"]["histories"]]
    # The execution turns KILLED at once (executor/.../ExecutorService.java@v1.3.25 `handleKilling`); the
    # task run's KILLED worker result "may arrive late" (jdbc/.../JdbcExecutor.java@v1.3.25), so poll for it.
    deadline = time.monotonic() + 10
    while state_of(exe, "slow") != "KILLED" and time.monotonic() < deadline:
        time.sleep(0.1)
        exe = emu.client.execution(exe_id)
    assert state_of(exe, "slow") == "KILLED" and runs(exe, "never") == []
    # Already finished: accepted (isOnKillCascade defaults to true), 409 only with isOnKillCascade=false
    # (webserver/.../api/ExecutionController.java@v1.3.25 `killExecution`).
    assert action(emu, exe_id, "kill").status_code in (200, 202)
    assert emu.client.execution(exe_id)["state"]["current"] == "KILLED"


def test_restart_reruns_only_failed_task_runs(emu, tmp_path):
    marker = tmp_path / "fixed"
    emu.client.deploy_ok(flow("restartable", """
tasks:
  - id: once
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    commands: ['echo ran >> %s; echo "::{\\"outputs\\":{\\"n\\":1}}::"']
  - id: fragile
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    env: {ATTEMPT: "{{ taskrun.attemptsCount }}", N: "{{ outputs.once.vars.n }}"}
    commands: ['echo "attempt=$ATTEMPT n=$N"; test -f %s']
""" % (PROCESS, tmp_path / "once.log", PROCESS, marker)))
    exe = emu.client.run("conformance", "restartable")
    assert exe["state"]["current"] == "FAILED"
    once_id = one(exe, "once")["id"]
    marker.write_text("ok")
    r = action(emu, exe["id"], "restart")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == exe["id"]  # same execution
    again = emu.client.wait(exe["id"], states={"SUCCESS", "FAILED", "WARNING", "KILLED"})
    deadline = time.monotonic() + 10
    while again["state"]["current"] != "SUCCESS" and time.monotonic() < deadline:
        time.sleep(0.05)
        again = emu.client.execution(exe["id"])
    assert again["state"]["current"] == "SUCCESS"
    assert one(again, "once")["id"] == once_id
    assert (tmp_path / "once.log").read_text().count("ran") == 1  # successful task not re-run
    fragile = one(again, "fragile")
    assert [a["state"]["current"] for a in fragile["attempts"]] == ["FAILED", "SUCCESS"]
    assert "RESTARTED" in [h["state"] for h in again["state"]["histories"]]
    assert [m for m in messages(emu.client, exe["id"], "fragile") if m.startswith("attempt")] == \
        ["attempt=0 n=1", "attempt=1 n=1"]
    # Nothing failed: 1.3 → IllegalArgumentException "No task found to restart execution from!" (422);
    # 2.0 refuses a non-FAILED execution first → IllegalStateException (409)
    # (core/io/kestra/core/services/ExecutionService.java + models/flows/State.java@v1.3.34/@v2.0.0).
    r = action(emu, exe["id"], "restart")
    assert r.status_code == (409 if emu.version >= 2 else 422), r.text


def test_wrong_version_action_path(emu):
    emu.client.deploy_ok(flow("actions", HELLO))
    exe = emu.client.run("conformance", "actions")
    other = "" if emu.version >= 2 else "/actions"
    r = emu.client.http.post("/api/v1/main/executions/%s%s/restart" % (exe["id"], other))
    assert r.status_code == 404


def test_follow_sse(emu):
    emu.client.deploy_ok(flow("followed", HELLO))
    exe = emu.client.run("conformance", "followed")
    with emu.client.http.stream("GET", "/api/v1/main/executions/%s/follow" % exe["id"]) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        data = [line for line in r.iter_lines() if line.startswith("data:")]
    assert data and '"SUCCESS"' in data[-1]


def kill_when_running(emu, execution_id, task_id="slow", timeout=20.0):
    """Kill once the task itself runs: real 2.0.0 drops a kill that reaches the worker before
    the task is dispatched (WorkerJobDispatcher logs it, the task then sleeps to its end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = emu.client.execution(execution_id).get("taskRunList") or []
        if any(r["taskId"] == task_id and r["state"]["current"] == "RUNNING" for r in runs):
            return action(emu, execution_id, "kill")
        time.sleep(0.05)
    raise AssertionError("task %s of %s never ran" % (task_id, execution_id))


def test_concurrency_limit_queue_and_cancel(emu):
    emu.client.deploy_ok(flow("conc_cancel", "concurrency: {limit: 1, behavior: CANCEL}\n" + SLOW))
    first = emu.client.trigger("conformance", "conc_cancel").json()["id"]
    # The limit counts executions already running: a second one created while the first is
    # still CREATED may run too on the real engine (seen on 1.3.31), so start it after.
    emu.client.wait(first, states={"RUNNING"})
    second = emu.client.trigger("conformance", "conc_cancel").json()["id"]
    assert emu.client.wait(second)["state"]["current"] == "CANCELLED"
    kill_when_running(emu, first)
    emu.client.wait(first)
    emu.client.deploy_ok(flow("conc_queue", "concurrency: {limit: 1}\n" + SLOW))
    first = emu.client.trigger("conformance", "conc_queue").json()["id"]
    emu.client.wait(first, states={"RUNNING"})
    second = emu.client.trigger("conformance", "conc_queue").json()["id"]
    assert emu.client.wait(second, states={"QUEUED"})["state"]["current"] == "QUEUED"
    kill_when_running(emu, first)
    emu.client.wait(second, states={"RUNNING"})  # dequeued when the first one ended
    kill_when_running(emu, second)
    assert emu.client.wait(second)["state"]["current"] == "KILLED"


def test_sla_max_duration_fails_execution(emu):
    emu.client.deploy_ok(flow("sla", """
sla:
  - {id: quick, type: MAX_DURATION, behavior: FAIL, duration: PT0.5S, labels: {sla: missed}}
""" + SLOW))
    started = time.monotonic()
    exe = emu.client.run("conformance", "sla")
    assert time.monotonic() - started < 8
    assert exe["state"]["current"] == "FAILED"
    assert {"key": "sla", "value": "missed"} in exe["labels"]


def test_logs_follow_sse(emu):
    emu.client.deploy_ok(flow("logs_followed", HELLO))
    exe = emu.client.run("conformance", "logs_followed")
    with emu.client.http.stream("GET", "/api/v1/main/logs/%s/follow" % exe["id"]) as r:
        data = [line for line in r.iter_lines() if line.startswith("data:")]
    assert any('"hi"' in line for line in data)
