"""Our Windmill REST client against the Windmill emulator (or a real Windmill when
WINDMILL_HOST/WINDMILL_TOKEN are set): hand-written flows, so only the client is tested."""
from __future__ import annotations

import os
import time
import uuid

import pytest

from metaflow_extensions.orchestrators.plugins.rest import (
    EngineAuthError,
    EngineConnectionError,
    EngineError,
    EngineInvalid,
    EngineNotFound,
    EngineTimeout,
)
from metaflow_extensions.orchestrators.plugins.windmill.client import STATUS, WindmillClient, job_state

TOKEN = "client-test-token-5b1e"
WORKSPACE = "clienttest"


@pytest.fixture(scope="module")
def server():
    if os.environ.get("WINDMILL_HOST"):
        yield (os.environ["WINDMILL_HOST"], os.environ.get("WINDMILL_TOKEN"),
               os.environ.get("WINDMILL_WORKSPACE", "admins"))
        return
    from metaflow_orchestrators.emulators.windmill import start

    with start(token=TOKEN, workspace=WORKSPACE) as handle:
        yield handle.url, TOKEN, WORKSPACE


@pytest.fixture
def client(server):
    url, token, workspace = server
    with WindmillClient(url, token=token, workspace=workspace, retries=1) as c:
        yield c


def _bash(module_id: str, content: str, **extra):
    module = {"id": module_id, "value": {"type": "rawscript", "language": "bash", "content": content,
                                         "input_transforms": {}}}
    module.update(extra)
    return module


def _flow(path: str, *modules, schema=None):
    return {"path": path, "summary": "client test", "description": "",
            "value": {"modules": list(modules)},
            "schema": schema or {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                                 "properties": {}, "required": []}}


def _path(name: str) -> str:
    return "f/clienttest/%s_%s" % (name, uuid.uuid4().hex[:8])


def test_upsert_get_list_delete_a_flow(client):
    client.ensure_folder("clienttest")
    client.ensure_folder("clienttest")  # idempotent
    path = _path("crud")
    assert client.get_flow(path) is None and not client.flow_exists(path)
    client.upsert_flow(_flow(path, _bash("a", 'echo "one"')))
    client.upsert_flow(_flow(path, _bash("a", 'echo "two"')))  # update: same path
    flow = client.get_flow(path)
    assert flow["value"]["modules"][0]["value"]["content"] == 'echo "two"'
    assert path in [f["path"] for f in client.list_flows("f/clienttest/")]
    client.delete_flow(path)
    assert client.get_flow(path) is None


def test_run_wait_typed_args_result_and_logs(client):
    client.ensure_folder("clienttest")
    path = _path("run")
    script = _bash("a", 'x="$1"\necho "got $x"\necho "{\\"n\\": $x}" > result.json')
    script["value"]["input_transforms"] = {"x": {"type": "javascript", "expr": "flow_input.n"}}
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    client.upsert_flow(_flow(path, script, schema=schema))
    job_id = client.run_flow(path, {"n": 7})
    seen = []
    job = client.wait(job_id, max_wait=60, poll=0.1, on_update=lambda j: seen.append(job_state(j)))
    assert job_state(job) == "SUCCESS" and STATUS[job_state(job)] == "SUCCEEDED"
    assert job["result"] == {"n": 7} and seen[-1] == "SUCCESS"
    modules = list(client.flow_jobs(job))
    assert [m["id"] for _, m, _ in modules] == ["a"]
    assert "got 7" in client.job_logs(modules[0][2]["id"])
    listed = client.list_flow_jobs(path, limit=5)
    assert listed and listed[0]["id"] == job_id


def test_failed_job_and_cancel(client):
    client.ensure_folder("clienttest")
    failing = _path("fail")
    client.upsert_flow(_flow(failing, _bash("boom", 'echo "bad thing" >&2\nexit 3')))
    job = client.wait(client.run_flow(failing, {}), max_wait=60, poll=0.1)
    assert job_state(job) == "FAILURE" and STATUS["FAILURE"] == "FAILED"
    slow = _path("slow")
    client.upsert_flow(_flow(slow, _bash("sleepy", "sleep 30")))
    job_id = client.run_flow(slow, {})
    with pytest.raises(EngineTimeout) as err:
        client.wait(job_id, max_wait=0.5, poll=0.1)
    assert job_id in str(err.value) and "/run/%s" % job_id in str(err.value)
    client.cancel(job_id)
    job = client.wait(job_id, max_wait=60, poll=0.2)
    assert job_state(job) == "CANCELED" and STATUS["CANCELED"] == "ABORTED"


def test_schedule_upsert_replaces_the_whole_object_and_delete(client):
    client.ensure_folder("clienttest")
    path = _path("sched")
    client.upsert_flow(_flow(path, _bash("a", "true")))
    schedule = {"path": path + "_schedule", "schedule": "0 0 3 * * *", "timezone": "UTC", "script_path": path,
                "is_flow": True, "args": {}, "enabled": False, "cron_version": "v2"}
    client.upsert_schedule(schedule)
    client.upsert_schedule(dict(schedule, schedule="0 30 4 * * *", timezone="Europe/Paris"))
    stored = client._json(client._send("GET", client._w("schedules", "get", path + "_schedule"), "schedule"))
    assert (stored["schedule"], stored["timezone"], stored["enabled"]) == ("0 30 4 * * *", "Europe/Paris", False)
    assert client.delete_schedule(path + "_schedule") is True
    assert client.delete_schedule(path + "_schedule") is False


def test_errors_are_one_line_typed_with_status_and_never_show_the_token(server):
    url, token, workspace = server
    with WindmillClient(url, token="wrong-" + (token or "x"), workspace=workspace, retries=0) as bad:
        with pytest.raises(EngineAuthError) as err:
            bad.flow_exists("f/clienttest/x")
    assert err.value.status == 401 and "refused the credentials" in str(err.value)
    assert "wrong-" not in str(err.value) and "\n" not in str(err.value)
    with WindmillClient(url, token=token, workspace=workspace, retries=0) as c:
        with pytest.raises(EngineNotFound) as err:
            c.get_job(str(uuid.uuid4()))
        assert err.value.status == 404
        with pytest.raises(EngineInvalid) as err:
            c._send("POST", c._w("flows", "create"), "a flow", json={"path": "f/clienttest/bad", "value": 3})
        assert err.value.status in (400, 422) and "Windmill rejected a flow" in str(err.value)
    assert (token or "") not in repr(WindmillClient(url, token=token))


def test_unreachable_host_and_bad_url_are_one_line():
    with WindmillClient("http://127.0.0.1:9", token="t0ken", retries=0, timeout=2) as c:
        start = time.monotonic()
        with pytest.raises(EngineConnectionError) as err:
            c.version()
    assert "cannot reach Windmill at http://127.0.0.1:9" in str(err.value) and "WINDMILL_HOST" in str(err.value)
    assert err.value.status is None and time.monotonic() - start < 10
    with pytest.raises(EngineError) as err:
        WindmillClient("localhost:8000")
    assert "invalid Windmill host" in str(err.value)
