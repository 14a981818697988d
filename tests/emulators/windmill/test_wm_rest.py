"""The REST surface: auth, workspaces, flows CRUD, runs, jobs, logs, list filters, variables,
schedules (windmill.md §11-§13, spec 1.743)."""
from __future__ import annotations

import datetime as dt
import time
import uuid

import httpx

from wmhelpers import TOKEN, bash, echo, flow, js


def test_missing_or_wrong_token_is_401(wm):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.get(wm.url + "/api/w/test/flows/list", headers=headers)
        assert response.status_code == 401


def test_cookie_token_and_login(wm):
    assert httpx.get(wm.url + "/api/w/test/flows/list", cookies={"token": TOKEN}).status_code == 200
    login = httpx.post(wm.url + "/api/auth/login", json={"email": "admin@windmill.dev", "password": "changeme"})
    assert login.status_code == 200 and login.text == TOKEN
    assert httpx.post(wm.url + "/api/auth/login", json={"email": "x", "password": "y"}).status_code == 401


def test_unknown_workspace_is_404(wm):
    response = wm.http.get("/w/nope/flows/exists/f/a/b")
    assert response.status_code == 404


def test_version_needs_no_auth(wm):
    response = httpx.get(wm.url + "/api/version")
    assert response.status_code == 200 and "v1." in response.text


def test_flow_crud_roundtrip(wm):
    path = "f/tests/crud"
    assert wm.http.get(wm.w("flows/exists/" + path)).json() is False
    assert wm.http.get(wm.w("flows/get/" + path)).status_code == 404
    created = wm.http.post(wm.w("flows/create"), json={"path": path, "summary": "v1", "value": flow(echo("a", "1"))})
    assert created.status_code == 201 and created.text == path
    assert created.headers["content-type"].startswith("text/plain")
    assert wm.http.post(wm.w("flows/create"), json={"path": path, "summary": "v1",
                                                     "value": flow(echo("a", "1"))}).status_code == 400
    assert wm.http.get(wm.w("flows/exists/" + path)).json() is True
    got = wm.http.get(wm.w("flows/get/" + path)).json()
    assert got["summary"] == "v1" and got["path"] == path and got["value"]["modules"][0]["id"] == "a"
    updated = wm.http.post(wm.w("flows/update/" + path), json={"path": path, "summary": "v2",
                                                                "value": flow(echo("b", "2"))})
    assert updated.status_code == 200
    assert wm.wait(wm.run(path))["result"] == "2"
    assert wm.http.delete(wm.w("flows/delete/" + path)).status_code == 200
    assert wm.http.get(wm.w("flows/exists/" + path)).json() is False
    assert wm.http.post(wm.w("flows/update/" + path), json={"summary": "x", "value": flow()}).status_code == 404


def test_run_unknown_flow_is_404(wm):
    assert wm.http.post(wm.w("jobs/run/f/f/tests/none"), json={}).status_code == 404


def test_run_returns_uuid_text_and_honours_job_id(wm):
    path = wm.create_flow(flow(echo("a", "flow_input.x")))
    wanted = str(uuid.uuid4())
    response = wm.http.post(wm.w("jobs/run/f/" + path), json={"x": 5}, params={"job_id": wanted})
    assert response.status_code == 201 and response.text == wanted
    assert wm.wait(wanted)["result"] == "5"
    duplicate = wm.http.post(wm.w("jobs/run/f/" + path), json={}, params={"job_id": wanted})
    assert duplicate.status_code == 400


def test_run_wait_result(wm):
    path = wm.create_flow(flow(echo("a", "flow_input.x * 3")))
    response = wm.http.post(wm.w("jobs/run_wait_result/f/" + path), json={"x": 2})
    assert response.status_code == 200 and response.json() == "6"


def test_job_states_queued_running_completed(wm):
    path = wm.create_flow(flow(bash("a", "sleep 1\necho done")))
    job_id = wm.run(path, scheduled_in_secs=1)
    first = wm.job(job_id)
    assert first["type"] == "QueuedJob" and first["running"] is False
    maybe = wm.http.get(wm.w("jobs_u/completed/get_result_maybe/" + job_id), params={"get_started": "true"}).json()
    assert maybe["completed"] is False and maybe["started"] is False
    deadline = time.monotonic() + 10
    while not wm.job(job_id).get("running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    done = wm.wait(job_id)
    assert done["success"] is True and done["duration_ms"] >= 900
    maybe = wm.http.get(wm.w("jobs_u/completed/get_result_maybe/" + job_id)).json()
    assert maybe == {"completed": True, "result": "done", "success": True}
    assert wm.http.get(wm.w("jobs_u/completed/get_result/" + job_id)).json() == "done"


def test_step_jobs_are_children_with_logs(wm):
    job = wm.run_flow(flow(bash("a", "echo line-one\necho line-two")))
    step_id = job["flow_status"]["modules"][0]["job"]
    step = wm.job(step_id)
    assert step["parent_job"] == job["id"] and step["is_flow_step"] is True and step["success"] is True
    assert "line-one" in wm.http.get(wm.w("jobs_u/get_logs/" + step_id)).text
    assert "line-two" in wm.http.get(wm.w("jobs_u/get_flow_all_logs/" + job["id"])).text
    assert wm.http.get(wm.w("jobs/result_by_id/%s/a" % job["id"])).json() == "line-two"
    update = wm.http.get(wm.w("jobs_u/getupdate/" + step_id), params={"log_offset": 0}).json()
    assert update["completed"] is True and "line-one" in update["new_logs"]


def test_jobs_list_filters_runs_of_a_flow(wm):
    path = wm.create_flow(flow(echo("a", "1")))
    other = wm.create_flow(flow(echo("a", "2")))
    ids = [wm.run(path), wm.run(path), wm.run(other)]
    for job_id in ids:
        wm.wait(job_id)
    runs = wm.http.get(wm.w("jobs/list"), params={"script_path_exact": path, "job_kinds": "flow",
                                                   "has_null_parent": "true"}).json()
    assert sorted(r["id"] for r in runs) == sorted(ids[:2])
    assert all(r["type"] == "CompletedJob" for r in runs)
    assert runs[0]["created_at"] >= runs[1]["created_at"]  # newest first
    assert wm.http.get(wm.w("jobs/list"), params={"script_path_exact": path, "success": "false"}).json() == []
    assert wm.http.get(wm.w("jobs/queue/list"), params={"script_path_exact": path}).json() == []
    assert len(wm.http.get(wm.w("jobs/list"), params={"script_path_exact": path, "status": "success"}).json()) == 2
    assert wm.http.get(wm.w("jobs/list"), params={"script_path_exact": path, "status": "failure"}).json() == []
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)).isoformat()
    assert wm.http.get(wm.w("jobs/list"), params={"script_path_exact": path, "created_after": later}).json() == []


def test_cancel_a_queued_job(wm):
    path = wm.create_flow(flow(echo("a", "1")))
    job_id = wm.run(path, scheduled_in_secs=30)
    assert wm.http.post(wm.w("jobs_u/queue/cancel/" + job_id), json={"reason": "no"}).status_code == 200
    job = wm.wait(job_id, timeout=5)
    assert job["canceled"] is True and job["success"] is False
    assert wm.http.post(wm.w("jobs_u/queue/cancel/" + job_id), json={}).status_code == 400


def test_cancel_a_parallel_loop_cancels_every_iteration(wm):
    loop = {"id": "l", "value": {"type": "forloopflow", "iterator": js("[1, 2, 3]"), "parallel": True,
                                 "skip_failures": False, "modules": [bash("s", "sleep 20")]}}
    path = wm.create_flow(flow(loop))
    job_id = wm.run(path)
    time.sleep(0.5)
    wm.http.post(wm.w("jobs_u/queue/cancel/" + job_id), json={"reason": "stop"})
    started = time.monotonic()
    job = wm.wait(job_id, timeout=10)
    assert job["canceled"] is True and time.monotonic() - started < 5
    for child in job["flow_status"]["modules"][0]["flow_jobs"]:
        assert wm.job(child)["type"] == "CompletedJob"


def test_restart_is_enterprise_only(wm):
    response = wm.http.post(wm.w("jobs/restart/f/" + str(uuid.uuid4())), json={"step_id": "a"})
    assert response.status_code == 400 and "enterprise" in response.text


def test_variables_create_get_update(wm):
    body = {"path": "f/tests/trigger_var", "value": "v1", "is_secret": False, "description": "d"}
    assert wm.http.post(wm.w("variables/create"), json=body).status_code == 201
    assert wm.http.post(wm.w("variables/create"), json=body).status_code == 400
    got = wm.http.get(wm.w("variables/get/f/tests/trigger_var")).json()
    assert got["value"] == "v1" and got["path"] == "f/tests/trigger_var" and got["is_secret"] is False
    assert wm.http.post(wm.w("variables/update/f/tests/trigger_var"), json={"value": "v2"}).status_code == 200
    assert wm.http.get(wm.w("variables/get_value/f/tests/trigger_var")).json() == "v2"
    assert wm.http.get(wm.w("variables/get/f/tests/absent")).status_code == 404
    assert wm.http.post(wm.w("variables/create"), json={"path": "f/tests/x"}).status_code == 400


def test_job_can_update_a_variable_for_cross_flow_triggers(wm):
    wm.http.post(wm.w("variables/create"), json={"path": "f/tests/signal", "value": "", "is_secret": False,
                                                  "description": ""})
    script = ('import json, os, urllib.request\n'
              'def main():\n'
              '    url = "%s/api/w/%s/variables/update/f/tests/signal" % (os.environ["BASE_INTERNAL_URL"],\n'
              '        os.environ["WM_WORKSPACE"])\n'
              '    body = json.dumps({"value": os.environ["WM_ROOT_FLOW_JOB_ID"]}).encode()\n'
              '    req = urllib.request.Request(url, data=body, method="POST", headers={\n'
              '        "Authorization": "Bearer " + os.environ["WM_TOKEN"], "Content-Type": "application/json"})\n'
              '    return urllib.request.urlopen(req).status\n')
    job = wm.run_flow(flow({"id": "p", "value": {"type": "rawscript", "language": "python3", "content": script,
                                                 "input_transforms": {}}}))
    assert job["result"] == 200
    assert wm.http.get(wm.w("variables/get_value/f/tests/signal")).json() == job["id"]


def schedule_body(path, flow_path, cron="*/1 * * * * *", **extra):
    body = {"path": path, "schedule": cron, "timezone": "UTC", "script_path": flow_path, "is_flow": True,
            "args": {"x": 7}, "enabled": True}
    body.update(extra)
    return body


def test_schedule_rejects_invalid_cron_and_timezone(wm):
    target = wm.create_flow(flow(echo("a", "1")))
    for cron in ("0 * * * *", "61 * * * * *", "not a cron"):
        response = wm.http.post(wm.w("schedules/create"), json=schedule_body("f/tests/bad", target, cron))
        assert response.status_code == 400, cron
    response = wm.http.post(wm.w("schedules/create"), json=schedule_body("f/tests/bad", target, timezone="Mars/Base"))
    assert response.status_code == 400 and "timezone" in response.text
    response = wm.http.post(wm.w("schedules/create"), json=schedule_body("f/tests/bad", target, on_success="f/x/y"))
    assert response.status_code == 400
    missing = {"path": "f/tests/bad", "schedule": "0 0 0 * * *"}
    assert wm.http.post(wm.w("schedules/create"), json=missing).status_code == 400


def test_schedule_crud_and_firing_on_the_real_clock(wm):
    target = wm.create_flow(flow(echo("a", "flow_input.x + ':' + (flow_input.x === 7)")))
    path = "f/tests/every_second"
    response = wm.http.post(wm.w("schedules/create"), json=schedule_body(path, target))
    assert response.status_code == 200 and response.text == path  # create_schedule -> Result<String>
    got = wm.http.get(wm.w("schedules/get/" + path)).json()
    assert got["schedule"] == "*/1 * * * * *" and got["enabled"] is True and got["cron_version"] == "v2"
    runs = []
    deadline = time.monotonic() + 6
    while len(runs) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        runs = wm.http.get(wm.w("jobs/list"), params={"schedule_path": path, "has_null_parent": "true"}).json()
    assert len(runs) >= 2
    first = wm.wait(runs[-1]["id"])
    assert first["result"] == "7:true" and first["schedule_path"] == path
    disabled = wm.http.post(wm.w("schedules/setenabled/" + path), json={"enabled": False})
    assert disabled.status_code == 200
    time.sleep(0.5)
    count = len(wm.http.get(wm.w("jobs/list"), params={"schedule_path": path}).json())
    time.sleep(1.5)
    assert len(wm.http.get(wm.w("jobs/list"), params={"schedule_path": path}).json()) == count
    updated = wm.http.post(wm.w("schedules/update/" + path), json={"schedule": "0 0 12 * * MON",
                                                                    "timezone": "Europe/Paris", "args": {}})
    assert updated.status_code == 200
    got = wm.http.get(wm.w("schedules/get/" + path)).json()
    assert got["timezone"] == "Europe/Paris" and got["enabled"] is False
    assert wm.http.delete(wm.w("schedules/delete/" + path)).status_code == 200
    assert wm.http.get(wm.w("schedules/exists/" + path)).json() is False


def test_schedule_preview_uses_seconds_and_timezone(wm):
    response = wm.http.post("/schedules/preview", json={"schedule": "0 30 9 * * *", "timezone": "Asia/Kolkata"})
    times = response.json()
    assert response.status_code == 200 and len(times) == 10
    assert all(t.endswith("04:00:00Z") for t in times)  # 09:30 IST = 04:00 UTC


def test_schedule_no_flow_overlap_records_a_stopped_run(wm):
    target = wm.create_flow(flow(bash("a", "sleep 2.5\necho done")))
    path = "f/tests/no_overlap"
    body = schedule_body(path, target, no_flow_overlap=True)
    assert wm.http.post(wm.w("schedules/create"), json=body).status_code == 200
    deadline = time.monotonic() + 8
    skipped = []
    while not skipped and time.monotonic() < deadline:
        time.sleep(0.3)
        runs = wm.http.get(wm.w("jobs/list"), params={"schedule_path": path}).json()
        skipped = [r for r in runs if r["type"] == "CompletedJob" and r.get("is_skipped")]
    wm.http.post(wm.w("schedules/setenabled/" + path), json={"enabled": False})
    assert skipped and skipped[0]["result"].startswith("not allowed to overlap with ")
