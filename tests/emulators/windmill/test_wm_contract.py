"""Requests and responses checked with openapi-core against Windmill's OpenAPI 1.743 spec."""
from __future__ import annotations

import pytest

from wmcontract import openapi, shared_specs_dir, wrap
from wmhelpers import bash, echo, flow, js

pytestmark = pytest.mark.skipif(shared_specs_dir() is None,
                                reason="shared/specs (MFO_SHARED_DIR or <repo>/../shared) not found")


def check(response, template, **path_params):
    """Both halves must match the operation in the spec."""
    spec = openapi()
    request, resp = wrap(response, template, {"workspace": "test", **path_params})
    spec.validate_request(request)
    spec.validate_response(request, resp)
    return response


@pytest.fixture(scope="module")
def completed(_client):
    wm = _client
    """A finished flow run with a loop and a branch (rich flow_status)."""
    loop = {"id": "l", "value": {"type": "forloopflow", "iterator": js("[1, 2]"), "skip_failures": False,
                                 "modules": [echo("s", "flow_input.iter.value")]}}
    path = wm.create_flow(flow(echo("a", "1"), loop), path="f/tests/contract_flow")
    job_id = wm.run(path, {"x": 1})
    return path, wm.wait(job_id)


def test_flow_create_update_exists_get_delete(wm):
    body = {"path": "f/tests/contract_crud", "summary": "s", "value": flow(bash("a", 'X="$1"\necho "$X"', X=js("1")))}
    check(wm.http.post(wm.w("flows/create"), json=body), "/w/{workspace}/flows/create")
    check(wm.http.get(wm.w("flows/exists/f/tests/contract_crud")), "/w/{workspace}/flows/exists/{path}",
          path="f/tests/contract_crud")
    check(wm.http.get(wm.w("flows/get/f/tests/contract_crud")), "/w/{workspace}/flows/get/{path}",
          path="f/tests/contract_crud")
    check(wm.http.post(wm.w("flows/update/f/tests/contract_crud"), json=body), "/w/{workspace}/flows/update/{path}",
          path="f/tests/contract_crud")
    check(wm.http.get(wm.w("flows/list")), "/w/{workspace}/flows/list")
    check(wm.http.delete(wm.w("flows/delete/f/tests/contract_crud")), "/w/{workspace}/flows/delete/{path}",
          path="f/tests/contract_crud")


def test_run_and_completed_job_shapes(wm, completed):
    path, job = completed
    response = check(wm.http.post(wm.w("jobs/run/f/" + path), json={"x": 2}), "/w/{workspace}/jobs/run/f/{path}",
                     path=path)
    queued = check(wm.http.get(wm.w("jobs_u/get/" + response.text)), "/w/{workspace}/jobs_u/get/{id}",
                   id=response.text)
    assert queued.json()["type"] in ("QueuedJob", "CompletedJob")
    done = check(wm.http.get(wm.w("jobs_u/get/" + job["id"])), "/w/{workspace}/jobs_u/get/{id}", id=job["id"])
    assert done.json()["type"] == "CompletedJob"
    check(wm.http.get(wm.w("jobs_u/completed/get/" + job["id"])), "/w/{workspace}/jobs_u/completed/get/{id}",
          id=job["id"])
    check(wm.http.get(wm.w("jobs_u/completed/get_result_maybe/" + job["id"])),
          "/w/{workspace}/jobs_u/completed/get_result_maybe/{id}", id=job["id"])
    check(wm.http.get(wm.w("jobs_u/get_logs/" + job["id"])), "/w/{workspace}/jobs_u/get_logs/{id}", id=job["id"])
    wm.wait(response.text)


def test_queued_job_shape(wm):
    path = wm.create_flow(flow(echo("a", "1")))
    job_id = wm.run(path, scheduled_in_secs=30)
    check(wm.http.get(wm.w("jobs_u/get/" + job_id)), "/w/{workspace}/jobs_u/get/{id}", id=job_id)
    check(wm.http.post(wm.w("jobs_u/queue/cancel/" + job_id), json={"reason": "r"}),
          "/w/{workspace}/jobs_u/queue/cancel/{id}", id=job_id)


def test_run_wait_result_and_list(wm, completed):
    path, _ = completed
    check(wm.http.post(wm.w("jobs/run_wait_result/f/" + path), json={}), "/w/{workspace}/jobs/run_wait_result/f/{path}",
          path=path)
    response = check(wm.http.get(wm.w("jobs/list"), params={"script_path_exact": path, "job_kinds": "flow"}),
                     "/w/{workspace}/jobs/list")
    assert len(response.json()) >= 1


def test_variables(wm):
    body = {"path": "f/tests/contract_var", "value": "v", "is_secret": False, "description": ""}
    check(wm.http.post(wm.w("variables/create"), json=body), "/w/{workspace}/variables/create")
    check(wm.http.get(wm.w("variables/get/f/tests/contract_var")), "/w/{workspace}/variables/get/{path}",
          path="f/tests/contract_var")
    check(wm.http.post(wm.w("variables/update/f/tests/contract_var"), json={"value": "w"}),
          "/w/{workspace}/variables/update/{path}", path="f/tests/contract_var")


def test_schedules(wm, completed):
    path, _ = completed
    body = {"path": "f/tests/contract_sched", "schedule": "0 0 0 * * *", "timezone": "UTC", "script_path": path,
            "is_flow": True, "args": {}, "enabled": False}
    # The spec says 201; the handler returns `Result<String>`, i.e. 200 (windmill-api-schedule/src/
    # lib.rs@v1.788.0 `create_schedule`, errata 7): the source wins, only the request half is checked.
    created = wm.http.post(wm.w("schedules/create"), json=body)
    assert created.status_code == 200 and created.text == "f/tests/contract_sched"
    request, _ = wrap(created, "/w/{workspace}/schedules/create", {"workspace": "test"})
    openapi().validate_request(request)
    check(wm.http.get(wm.w("schedules/get/f/tests/contract_sched")), "/w/{workspace}/schedules/get/{path}",
          path="f/tests/contract_sched")
    check(wm.http.post(wm.w("schedules/update/f/tests/contract_sched"),
                       json={"schedule": "0 0 1 * * *", "timezone": "UTC", "args": {}}),
          "/w/{workspace}/schedules/update/{path}", path="f/tests/contract_sched")
    check(wm.http.post(wm.w("schedules/setenabled/f/tests/contract_sched"), json={"enabled": False}),
          "/w/{workspace}/schedules/setenabled/{path}", path="f/tests/contract_sched")
    check(wm.http.delete(wm.w("schedules/delete/f/tests/contract_sched")), "/w/{workspace}/schedules/delete/{path}",
          path="f/tests/contract_sched")


def test_a_response_that_breaks_the_contract_is_detected(wm, completed):
    """The checker itself must be able to fail: a job without required fields is refused."""
    path, job = completed
    response = wm.http.get(wm.w("jobs_u/get/" + job["id"]))
    response._content = b'{"type": "CompletedJob", "id": "not-a-uuid"}'
    with pytest.raises(Exception):
        check(response, "/w/{workspace}/jobs_u/get/{id}", id=job["id"])


def test_more_read_endpoints(wm, completed):
    path, job = completed
    jid = job["id"]
    check(wm.http.get(wm.w("jobs_u/getupdate/" + jid)), "/w/{workspace}/jobs_u/getupdate/{id}", id=jid)
    check(wm.http.get(wm.w("jobs_u/get_flow_all_logs/" + jid)), "/w/{workspace}/jobs_u/get_flow_all_logs/{id}", id=jid)
    check(wm.http.get(wm.w("jobs_u/completed/get_result/" + jid)), "/w/{workspace}/jobs_u/completed/get_result/{id}",
          id=jid)
    check(wm.http.get(wm.w("jobs/completed/list"), params={"script_path_exact": path}), "/w/{workspace}/jobs/completed/list")
    check(wm.http.get(wm.w("jobs/queue/list")), "/w/{workspace}/jobs/queue/list")
    check(wm.http.get(wm.w("jobs/result_by_id/%s/a" % jid)), "/w/{workspace}/jobs/result_by_id/{flow_job_id}/{node_id}",
          flow_job_id=jid, node_id="a")
    check(wm.http.get(wm.w("users/whoami")), "/w/{workspace}/users/whoami")
    check(wm.http.get(wm.w("variables/list")), "/w/{workspace}/variables/list")
    check(wm.http.get(wm.w("schedules/list")), "/w/{workspace}/schedules/list")
    check(wm.http.post(wm.w("folders/create"), json={"name": "contract"}), "/w/{workspace}/folders/create")


def test_global_endpoints(wm):
    spec = openapi()
    for response, template in ((wm.http.get("/version"), "/version"),
                               (wm.http.get("/users/whoami"), "/users/whoami"),
                               (wm.http.post("/schedules/preview", json={"schedule": "0 0 0 * * *", "timezone": "UTC"}),
                                "/schedules/preview")):
        request, resp = wrap(response, template, {})
        spec.validate_request(request)
        spec.validate_response(request, resp)
