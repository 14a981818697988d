"""KestraClient against the Kestra emulator (1.x and 2.x, with and without Basic auth), plus
httpx.MockTransport fake servers for the retry policy.

One emulator per version per module; every test uses its own flow ids so tests stay independent.
"""
import json
import socket
import time

import httpx
import pytest

from metaflow_extensions.orchestrators.plugins.kestra.client import (
    TERMINAL_STATES,
    KestraAuthError,
    KestraClient,
    KestraConnectionError,
    KestraError,
    KestraInvalid,
    KestraNotFound,
    KestraTimeout,
)
from metaflow_orchestrators.emulators.kestra import start

NS = "metaflow.clienttest"
USER, PASSWORD = "admin@example.com", "pa55-w0rd-Secret"
PROCESS = "{type: io.kestra.plugin.core.runner.Process}"


# ---- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[1, 2], ids=["kestra1", "kestra2"])
def server(request):
    """An emulator with Basic auth, one per version for the whole module."""
    with start(version=request.param, username=USER, password=PASSWORD) as handle:
        handle.major = request.param
        yield handle


@pytest.fixture(scope="module", params=[1, 2], ids=["kestra1-open", "kestra2-open"])
def open_server(request):
    """An emulator without auth (Kestra < 0.24 or basic auth disabled)."""
    with start(version=request.param) as handle:
        handle.major = request.param
        yield handle


@pytest.fixture
def client(server):
    with KestraClient(server.url, username=USER, password=PASSWORD, timeout=10) as c:
        yield c


def shell_flow(flow_id, commands, inputs="", triggers="", env=None):
    """A one-task flow running shell `commands` (each a YAML scalar) on the Process runner."""
    lines = ["id: %s" % flow_id, "namespace: %s" % NS]
    if inputs:
        lines.append(inputs.rstrip())
    lines += ["tasks:", "  - id: say", "    type: io.kestra.plugin.scripts.shell.Commands",
              "    taskRunner: %s" % PROCESS]
    if env:
        lines.append("    env: %s" % json.dumps(env))
    lines.append("    commands:")
    lines += ["      - %s" % json.dumps(c) for c in commands]
    if triggers:
        lines.append(triggers.rstrip())
    return "\n".join(lines) + "\n"


def deploy(client, flow_id, source):
    client.upsert_flow(source, NS, flow_id)
    return flow_id


def run(client, flow_id, **kwargs):
    execution = client.trigger(NS, flow_id, **kwargs)
    return client.wait(execution["id"], max_wait=20, poll=0.05)


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# ---- version, tenant, urls ------------------------------------------------------------------
def test_version_detection_and_tenant(client, server):
    assert client.version[0] == server.major == client.major
    assert client.version == ((1, 3, 0) if server.major == 1 else (2, 0, 0))
    assert client.tenant == "main"
    assert client.ui_url("ns", "f", "E1") == server.url + "/ui/main/executions/ns/f/E1"


def test_explicit_tenant_wins_and_empty_means_none(server):
    with KestraClient(server.url + "/", username=USER, password=PASSWORD, tenant="") as c:
        assert c.tenant is None
        assert c.ui_url("ns", "f", "E1") == server.url + "/ui/executions/ns/f/E1"
        # The emulator also serves the untenanted (≤ 0.22) form.
        assert c.get_flow(NS, "does_not_exist") is None
    with KestraClient(server.url, tenant="acme") as c:
        assert c.tenant == "acme"


def test_old_servers_have_no_tenant_segment():
    def handler(request):
        assert request.url.path in ("/api/v1/configs", "/api/v1/flows/ns/f"), request.url.path
        if request.url.path == "/api/v1/configs":
            return httpx.Response(200, json={"version": "0.22.4-SNAPSHOT"})
        return httpx.Response(404, json={"message": "Flow not found"})

    with KestraClient("http://kestra.test", transport=httpx.MockTransport(handler)) as c:
        assert c.version == (0, 22, 4)
        assert c.tenant is None
        assert c.get_flow("ns", "f") is None


# ---- flows ----------------------------------------------------------------------------------
def test_upsert_creates_then_updates(client):
    source = shell_flow("upsert_me", ["echo one"])
    created = client.upsert_flow(source, NS, "upsert_me")
    assert created["revision"] == 1
    updated = client.upsert_flow(source.replace("echo one", "echo two"), NS, "upsert_me")
    assert updated["revision"] == 2
    assert "echo two" in client.get_flow(NS, "upsert_me")["source"]
    assert "upsert_me" in [f["id"] for f in client.list_flows(NS)]
    client.delete_flow(NS, "upsert_me")
    assert client.get_flow(NS, "upsert_me") is None


def test_invalid_flow_is_reported_not_mistaken_for_exists(client):
    bad = shell_flow("bad_flow", ["echo x"]).replace("tasks:", "foo: 1\ntasks:")
    messages = client.validate_flow(bad)
    assert messages and any("foo" in m for m in messages)
    assert client.validate_flow(shell_flow("good_flow", ["echo x"])) == []
    with pytest.raises(KestraInvalid) as err:
        client.upsert_flow(bad, NS, "bad_flow")
    text = str(err.value)
    assert text.startswith("Kestra rejected the flow %s.bad_flow (422): " % NS)
    assert "foo" in text and "\n" not in text
    assert client.get_flow(NS, "bad_flow") is None


def test_get_flow_none_and_delete_unknown_raises(client):
    assert client.get_flow(NS, "nope") is None
    with pytest.raises(KestraNotFound):
        client.delete_flow(NS, "nope")
    with pytest.raises(KestraNotFound):
        client.get_execution("NoSuchExecution123")


# ---- executions -----------------------------------------------------------------------------
def typed_flow(flow_id, major):
    bool_type = "BOOL" if major >= 2 else "BOOLEAN"
    return "\n".join([
        "id: %s" % flow_id,
        "namespace: %s" % NS,
        "inputs:",
        "  - {id: i, type: INT, required: true}",
        "  - {id: b, type: %s, required: true}" % bool_type,
        "  - {id: j, type: JSON, required: true}",
        "  - {id: s, type: STRING, required: true}",
        "tasks:",
        "  - id: echo",
        "    type: io.kestra.plugin.scripts.python.Script",
        "    taskRunner: %s" % PROCESS,
        "    env:",
        '      I: "{{ inputs.i }}"',
        '      B: "{{ inputs.b }}"',
        '      J: "{{ inputs.j | toJson }}"',
        # env is rendered twice (AbstractExecScript, then TaskRunner.env): user text
        # travels encoded, so nothing in it is read as a template the second time.
        '      S: "{{ inputs.s | toJson | base64encode }}"',
        "    script: |",
        "      import base64, json, os",
        '      out = {"i": int(os.environ["I"]), "b": os.environ["B"], "j": json.loads(os.environ["J"]),',
        '             "s": json.loads(base64.b64decode(os.environ["S"]))}',
        '      print("::" + json.dumps({"outputs": out}) + "::")',
        "  - id: plain",
        "    type: io.kestra.plugin.scripts.shell.Commands",
        "    taskRunner: %s" % PROCESS,
        "    commands: ['echo no outputs here']",
        "",
    ])


def test_trigger_with_typed_inputs_and_labels_then_outputs(client, server):
    deploy(client, "typed", typed_flow("typed", server.major))
    tricky = 'say "hi" {{ inputs.i }} and {% raw %} \'q\''
    execution = client.trigger(NS, "typed", inputs={"i": 42, "b": True, "j": {"k": [1, "two"]}, "s": tricky},
                               labels={"team": "ml", "run": "r-1"})
    assert execution["id"] and execution["state"]["current"] in TERMINAL_STATES | {"CREATED", "RUNNING"}
    labels = {(lab["key"], lab["value"]) for lab in execution["labels"]}
    assert {("team", "ml"), ("run", "r-1")} <= labels

    seen = []
    done = client.wait(execution["id"], max_wait=20, poll=0.05, on_update=seen.append)
    assert done["state"]["current"] == "SUCCESS"
    assert seen and seen[-1]["state"]["current"] == "SUCCESS"
    assert done["inputs"]["s"] == tricky

    runs = {r["taskId"]: r for r in client.task_runs(execution["id"])}
    assert runs["echo"]["outputs"]["vars"] == {"i": 42, "b": "true", "j": {"k": [1, "two"]}, "s": tricky}
    assert runs["echo"]["outputs"]["exitCode"] == 0
    # Passing the execution avoids a GET; every run has an outputs dict.
    again = client.task_runs(execution["id"], execution=done)
    assert {r["taskId"] for r in again} == {"echo", "plain"}
    assert all(isinstance(r["outputs"], dict) for r in again)


def test_trigger_without_inputs_sends_no_body():
    seen = {}

    def handler(request):
        if request.url.path == "/api/v1/configs":
            return httpx.Response(200, json={"version": "1.3.0"})
        seen.update(method=request.method, path=request.url.path, body=request.read(),
                    ctype=request.headers.get("content-type"), labels=request.url.params.get_list("labels"))
        return httpx.Response(200, json={"id": "E1", "state": {"current": "CREATED"}})

    with KestraClient("http://kestra.test", transport=httpx.MockTransport(handler)) as c:
        c.trigger("ns", "f", labels={"a": "b:c"})
    assert seen == {"method": "POST", "path": "/api/v1/main/executions/ns/f", "body": b"", "ctype": None,
                    "labels": ["a:b:c"]}


def test_failing_flow_ends_failed_and_restart(client, tmp_path):
    marker = tmp_path / "second-time"
    # Fails the first time, succeeds once the marker exists: restart re-runs only the failed task.
    command = "test -f '%s' || { touch '%s'; echo first-try-fails >&2; exit 3; }" % (marker, marker)
    deploy(client, "flaky", shell_flow("flaky", [command]))
    failed = run(client, "flaky")
    assert failed["state"]["current"] == "FAILED"

    restarted = client.restart(failed["id"])
    assert restarted["id"] == failed["id"]
    done = client.wait(failed["id"], max_wait=20, poll=0.05)
    assert done["state"]["current"] == "SUCCESS"


def test_max_wait_raises_timeout(client):
    deploy(client, "slowish", shell_flow("slowish", ["sleep 30"]))
    execution = client.trigger(NS, "slowish")
    started = time.monotonic()
    with pytest.raises(KestraTimeout) as err:
        client.wait(execution["id"], max_wait=0.3, poll=0.05)
    assert time.monotonic() - started < 3
    assert execution["id"] in str(err.value) and "/ui/main/executions/" in str(err.value)
    assert isinstance(err.value, KestraError)
    client.kill(execution["id"])
    client.wait(execution["id"], max_wait=20, poll=0.05)


def test_kill_running_then_kill_again_is_accepted(client):
    deploy(client, "sleeper", shell_flow("sleeper", ["sleep 30"]))
    execution = client.trigger(NS, "sleeper")
    # Wait until the task really runs, so the kill hits a live process.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = client.get_execution(execution["id"]).get("taskRunList") or []
        if runs and runs[0]["state"]["current"] == "RUNNING":
            break
        time.sleep(0.05)
    started = time.monotonic()
    client.kill(execution["id"])
    done = client.wait(execution["id"], max_wait=20, poll=0.05)
    assert done["state"]["current"] == "KILLED"
    assert time.monotonic() - started < 10
    # Killing an ended execution is accepted and changes nothing (1.x 202, 2.x 200:
    # ExecutionController kill, errata item 8).
    client.kill(execution["id"])
    assert client.get_execution(execution["id"])["state"]["current"] == "KILLED"


def test_logs_contain_printed_line(client):
    deploy(client, "talker", shell_flow("talker", ["echo hello-from-the-task", "echo oops >&2"]))
    done = run(client, "talker")
    assert done["state"]["current"] == "SUCCESS"
    messages = [e["message"] for e in client.logs(done["id"])]
    assert any("hello-from-the-task" in m for m in messages)
    assert any("hello-from-the-task" in e["message"] for e in client.logs(done["id"], task_id="say"))
    assert client.logs(done["id"], task_id="other") == []
    errors = client.logs(done["id"], min_level="ERROR")
    assert errors and all(e["level"] == "ERROR" for e in errors)
    assert not any("hello-from-the-task" in e["message"] for e in errors)


def test_list_executions_newest_first(client):
    deploy(client, "listed", shell_flow("listed", ["true"]))
    ids = []
    for _ in range(3):
        ids.append(client.trigger(NS, "listed")["id"])
        time.sleep(0.01)
    listed = client.list_executions(NS, "listed", size=10)
    assert [e["id"] for e in listed] == list(reversed(ids))
    assert [e["id"] for e in client.list_executions(NS, "listed", size=2)] == list(reversed(ids))[:2]
    for execution_id in ids:
        client.wait(execution_id, max_wait=20, poll=0.05)


def test_webhook_trigger_fires(client):
    source = shell_flow(
        "hooked", ['echo "::{\\"outputs\\":{\\"x\\":\\"$X\\"}}::"'], env={"X": "{{ trigger.body.x }}"},
        triggers="triggers:\n  - {id: hook, type: io.kestra.plugin.core.trigger.Webhook, key: somekey}")
    deploy(client, "hooked", source)
    fired = client.webhook(NS, "hooked", "somekey", {"x": "payload-value"})
    assert fired and fired["id"]
    done = client.wait(fired["id"], max_wait=20, poll=0.05)
    assert done["state"]["current"] == "SUCCESS"
    assert client.task_runs(fired["id"])[0]["outputs"]["vars"] == {"x": "payload-value"}
    with pytest.raises(KestraNotFound):
        client.webhook(NS, "hooked", "wrongkey", {})


# ---- auth, connection, retries --------------------------------------------------------------
def test_wrong_password_is_an_auth_error_without_the_password(server):
    wrong = "Wr0ng-Pa55word-xyz"
    with KestraClient(server.url, username=USER, password=wrong) as c:
        assert c.major == server.major  # the version probe is open
        with pytest.raises(KestraAuthError) as err:
            c.get_flow(NS, "anything")
    text = str(err.value)
    assert wrong not in text and PASSWORD not in text
    assert "KESTRA_USER" in text and "--kestra-password" in text and "KESTRA_TOKEN" in text
    with KestraClient(server.url) as c, pytest.raises(KestraAuthError) as err:
        c.list_flows(NS)
    assert "requires authentication" in str(err.value)


def test_repr_never_shows_credentials(server):
    c = KestraClient(server.url, username=USER, password=PASSWORD)
    t = KestraClient("http://user:url-secret@localhost:8080", token="tok-abc-123")
    try:
        assert PASSWORD not in repr(c) and server.url in repr(c)
        assert "tok-abc-123" not in repr(t) and "url-secret" not in repr(t)
        assert t.host == "http://localhost:8080"
    finally:
        c.close()
        t.close()
    with pytest.raises(KestraError) as err:
        KestraClient("user:url-secret@localhost:8080")
    assert "url-secret" not in str(err.value) and "KESTRA_HOST" in str(err.value)


def test_bearer_token_header():
    seen = []

    def handler(request):
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"version": "2.0.0"})

    with KestraClient("http://kestra.test", token="tok-1", transport=httpx.MockTransport(handler)) as c:
        assert c.major == 2
    assert seen == ["Bearer tok-1"]


def test_open_server_without_auth(open_server):
    with KestraClient(open_server.url) as c:
        assert c.major == open_server.major
        c.upsert_flow(shell_flow("open_hello", ["echo hi"]), NS, "open_hello")
        done = c.wait(c.trigger(NS, "open_hello")["id"], max_wait=20, poll=0.05)
        assert done["state"]["current"] == "SUCCESS"


def test_connection_refused_is_quick_and_clear():
    port = closed_port()
    started = time.monotonic()
    with KestraClient("http://127.0.0.1:%d" % port, password="hidden-pw") as c:
        with pytest.raises(KestraConnectionError) as err:
            c.get_flow("ns", "f")
    assert time.monotonic() - started < 5
    text = str(err.value)
    assert text == ("cannot reach Kestra at http://127.0.0.1:%d (connection refused); "
                    "is it running? Set --kestra-host or KESTRA_HOST" % port)


def _flaky_handler(failures, calls):
    def handler(request):
        calls.append((request.method, request.url.path))
        if request.url.path == "/api/v1/configs":
            return httpx.Response(200, json={"version": "1.3.0"})
        if len([c for c in calls if c[1] == request.url.path]) <= failures:
            return httpx.Response(503, text="upstream unavailable")
        return httpx.Response(200, json={"id": "f", "namespace": "ns", "revision": 1})
    return handler


def test_5xx_on_get_is_retried_then_succeeds():
    calls = []
    with KestraClient("http://kestra.test", retries=3, transport=httpx.MockTransport(_flaky_handler(2, calls))) as c:
        assert c.get_flow("ns", "f")["revision"] == 1
    assert calls.count(("GET", "/api/v1/main/flows/ns/f")) == 3


def test_5xx_on_get_gives_up_after_retries():
    calls = []
    with KestraClient("http://kestra.test", retries=2, transport=httpx.MockTransport(_flaky_handler(99, calls))) as c:
        with pytest.raises(KestraError) as err:
            c.get_flow("ns", "f")
    assert calls.count(("GET", "/api/v1/main/flows/ns/f")) == 3
    assert "503" in str(err.value) and "upstream unavailable" in str(err.value)


def test_5xx_on_trigger_is_never_retried():
    calls = []
    with KestraClient("http://kestra.test", retries=3, transport=httpx.MockTransport(_flaky_handler(1, calls))) as c:
        with pytest.raises(KestraError) as err:
            c.trigger("ns", "f", inputs={"a": 1})
    assert calls.count(("POST", "/api/v1/main/executions/ns/f")) == 1
    assert "503" in str(err.value) and "the flow ns.f" in str(err.value)


class _Counting(httpx.HTTPTransport):
    """A real transport that remembers the paths it was asked for."""

    def __init__(self):
        super().__init__()
        self.paths = []

    def handle_request(self, request):
        self.paths.append(request.url.path)
        return super().handle_request(request)


def test_ended_loop_iterations_are_read_once(server):
    if server.major < 2:
        pytest.skip("1.x ForEach iterations are task runs of the execution itself")
    transport = _Counting()
    with KestraClient(server.url, username=USER, password=PASSWORD, timeout=10, transport=transport) as client:
        deploy(client, "looper", "\n".join([
            "id: looper", "namespace: %s" % NS, "tasks:",
            "  - id: each", "    type: io.kestra.plugin.core.flow.Loop", "    values: [1, 2, 3, 4, 5]",
            "    tasks:", "      - {id: hi, type: io.kestra.plugin.core.log.Log, message: hi}"]))
        done = run(client, "looper")
        first = client.task_runs(done["id"], outputs=False)
        assert sorted(str(r["loopValue"]) for r in first if r["taskId"] == "hi") == ["1", "2", "3", "4", "5"]
        transport.paths.clear()
        again = client.task_runs(done["id"], done, outputs=False)
        assert [r["state"] for r in again] == [r["state"] for r in first]
        # One search for the iterations, nothing more: each ended iteration was read once.
        assert [p.rsplit("/", 1)[-1] for p in transport.paths] == ["search"]


def test_wait_shows_loop_iterations_as_they_end(server):
    """2.x iterations are executions of their own and the Loop's task run stays RUNNING while
    they run: ``wait`` still reports each iteration's task run while the Loop runs, not only
    once it ended."""
    if server.major < 2:
        pytest.skip("1.x ForEach iterations are task runs of the execution itself")
    with KestraClient(server.url, username=USER, password=PASSWORD, timeout=10) as client:
        deploy(client, "paced", "\n".join([
            "id: paced", "namespace: %s" % NS, "tasks:",
            "  - id: each", "    type: io.kestra.plugin.core.flow.Loop", "    values: [1, 2, 3]",
            "    tasks:", "      - id: nap", "        type: io.kestra.plugin.scripts.shell.Commands",
            "        taskRunner: %s" % PROCESS, "        commands: ['sleep 1.5']"]))
        seen_while_looping = set()

        def on_update(execution):
            runs = client.task_runs(execution["id"], execution, outputs=False)
            if any(r["taskId"] == "each" and r["state"]["current"] == "RUNNING" for r in runs):
                seen_while_looping.update(str(r["loopValue"]) for r in runs
                                          if r["taskId"] == "nap" and r["state"]["current"] == "SUCCESS")

        execution = client.trigger(NS, "paced")
        done = client.wait(execution["id"], max_wait=60, poll=0.05, on_update=on_update)
    assert done["state"]["current"] == "SUCCESS"
    # Iterations 1 and 2 ended while the Loop still ran (the third ends the Loop): iterations
    # are searched for at most every second (client.ITERATIONS_REFRESH), each takes 1.5 s.
    assert {"1", "2"} <= seen_while_looping


def test_an_unchanged_flow_is_not_sent_again(server):
    """Kestra gives back the source it stores verbatim (comments, order, spacing), so a
    re-deploy of the same source sees it there and sends nothing; a changed one is sent."""
    from metaflow_extensions.orchestrators.plugins.kestra.backend import send_flow

    source = "\n".join(["# a comment Kestra keeps", "id: unchanged", "namespace: %s" % NS,
                        "description: \"same source, no request\"", "tasks:",
                        "  - {id: hi, type: io.kestra.plugin.core.log.Log, message: hi}", ""])
    transport = _Counting()
    with KestraClient(server.url, username=USER, password=PASSWORD, timeout=10, transport=transport) as client:
        client.delete_flow(NS, "unchanged") if client.get_flow(NS, "unchanged") else None
        assert send_flow(client, NS, "unchanged", source, None)
        existing = client.get_flow(NS, "unchanged")
        assert existing["source"] == source
        transport.paths.clear()
        assert not send_flow(client, NS, "unchanged", source, existing) and transport.paths == []
        changed = source.replace("hi}", "hello}")
        assert send_flow(client, NS, "unchanged", changed, existing) and len(transport.paths) == 1
        assert client.get_flow(NS, "unchanged")["source"] == changed
