"""One case per item of ../shared/reference/windmill-errata.md, on hand-written OpenFlow, with the
expectation taken from Windmill's source (cited per case, `path@v1.788.0`). The same cases run
unchanged against a real Windmill when WINDMILL_HOST is set (marker `real_windmill`)."""
from __future__ import annotations

from wmhelpers import bash, echo, flow, forloop, js, python, static


def _branchall(module_id, *bodies, parallel=True, skip=False):
    return {"id": module_id, "value": {"type": "branchall", "parallel": parallel,
                                       "branches": [{"modules": b, "skip_failure": skip} for b in bodies]}}


# ---- 2 + 3: parallel loops and branchall do not fail fast; a failed one's result is the list --------
def test_2_parallel_forloop_runs_every_iteration_to_the_end(wm):
    """worker_flow.rs@v1.788.0: a finished parallel iteration only bumps the counter; the module is
    judged when `nindex == len`, with `retrieve_flow_jobs_results` as its result."""
    body = [bash("s", 'V="$1"\nif [ "$V" = 0 ]; then exit 1; fi\nsleep 1\necho "done-$V"', V=js("flow_input.iter.value"))]
    loop = forloop("l", js("[0, 1]"), body, skip_failures=False, parallel=True)
    job = wm.run_flow(flow(loop, echo("after", "'never'")))
    assert job["success"] is False
    first, second = job["result"]
    assert first["error"]["name"] == "ExecutionErr" and second == "done-1"
    assert job["flow_status"]["modules"][0]["flow_jobs_success"] == [False, True]
    assert job["flow_status"]["modules"][1]["type"] == "WaitingForPriorSteps"


def test_2_parallel_branchall_runs_every_branch_to_the_end(wm):
    slow = [bash("slow", "sleep 1\necho slow-done")]
    job = wm.run_flow(flow(_branchall("b", [bash("bad", "exit 2")], slow)))
    assert job["success"] is False
    assert job["result"][0]["error"]["step_id"] == "bad" and job["result"][1] == "slow-done"


def test_3_failed_sequential_loop_result_is_the_results_so_far(wm):
    """`FlowStatusModule::Failure { flow_jobs }` -> the results of the iterations run, failed last."""
    body = [bash("s", 'V="$1"\n[ "$V" != 1 ] || exit 1\necho "ok-$V"', V=js("flow_input.iter.value"))]
    job = wm.run_flow(flow(forloop("l", js("[0, 1, 2]"), body, skip_failures=False)))
    assert job["success"] is False
    assert job["result"][0] == "ok-0" and job["result"][1]["error"]["name"] == "ExecutionErr"
    assert len(job["result"]) == 2


def test_3_sequential_branchall_failure_is_the_results_so_far(wm):
    job = wm.run_flow(flow(_branchall("b", [echo("x", "'one'")], [bash("bad", "exit 1")], [echo("z", "'three'")],
                                      parallel=False)))
    assert job["success"] is False and job["result"][0] == "one" and len(job["result"]) == 2


# ---- 4: python3 passes only the arguments main declares ------------------------------------------
def test_4_python_main_gets_only_declared_arguments(wm):
    """python_executor.rs@v1.788.0 `compute_py_codegen`: `args["x"] = kwargs.get("x")` per parameter,
    dropped when None and defaulted; a `**kwargs` signature gets everything."""
    declared = python("p", "def main(a, b=5, c=None):\n    return [a, b, c]", a=static(1), extra=static(2))
    assert wm.run_flow(flow(declared))["result"] == [1, 5, None]
    spread = python("p", "def main(**kw):\n    return sorted(kw)", a=static(1), extra=static(2))
    assert wm.run_flow(flow(spread))["result"] == ["a", "extra"]


# ---- 5: JavaScript transforms are rewritten before evaluation -------------------------------------
def test_5_results_access_forms(wm):
    """windmill-jseval/src/lib.rs@v1.788.0 `RE`: `results.a` and `results["a"]` become `(await …)`;
    single-quoted bracket access stays a Promise, so `.x` of it is null."""
    probe = python("p", "def main(dot, dq, sq):\n    return [dot, dq, sq]",
                   dot=js("results.a.x"), dq=js('results["a"].x'), sq=js("results['a'].x"))
    job = wm.run_flow(flow(python("a", "def main():\n    return {'x': 7}"), probe))
    assert job["result"] == [7, 7, None]


def test_5_semicolon_makes_a_function_body(wm):
    """`should_add_return_quickjs`: a `;` outside strings or a statement keyword -> no implicit return."""
    probe = python("p", "def main(body, ret, quoted):\n    return [body, ret, quoted]",
                   body=js("flow_input.n; flow_input.n + 1"), ret=js("const m = flow_input.n; return m * 2"),
                   quoted=js("'a;b'"))
    assert wm.run_flow(flow(probe), {"n": 3})["result"] == [None, 6, "a;b"]


def test_5_branch_condition_with_semicolon_fails(wm):
    """compute_bool_from_expr: `Boolean(<expr>)` must be a boolean."""
    branch = {"id": "b", "value": {"type": "branchone", "branches": [{"expr": "true; true", "modules": []}],
                                   "default": []}}
    assert wm.run_flow(flow(branch))["success"] is False


# ---- 6: bash non-zero exit ------------------------------------------------------------------------
def test_6_bash_result_json_is_the_error_on_non_zero_exit(wm):
    """result_processor.rs@v1.788.0 `Error::ExitStatus`: a non-empty result.json is the error."""
    step = bash("s", "echo '{\"reason\": \"mine\"}' > result.json\nexit 3")
    job = wm.run_flow(flow(step))
    assert job["success"] is False and job["result"] == {"error": {"reason": "mine"}}


def test_6_bash_error_from_the_last_log_lines(wm):
    """`extract_error_value`: program "bash run", exit code, the log after "CODE EXECUTION ---"."""
    job = wm.run_flow(flow(bash("s", "echo first\necho >&2 second\nexit 3")))
    error = job["result"]["error"]
    assert error["name"] == "ExecutionErr" and error["exit_code"] == 3 and error["step_id"] == "s"
    assert error["message"].startswith('exit code for "bash run": 3, last log lines:\n')
    assert error["message"].rstrip().endswith("second")


# ---- 7: schedules ---------------------------------------------------------------------------------
def _schedule(wm, flow_path, **extra):
    body = {"path": wm.unique_path("sched"), "schedule": "0 0 0 1 1 *", "timezone": "UTC", "script_path": flow_path,
            "is_flow": True, "args": {}, "enabled": False}
    body.update(extra)
    return body


def test_7_community_edition_refuses_success_and_recovery_handlers(wm):
    """windmill-api-schedule/src/lib.rs@v1.788.0 `create_schedule`, not(feature = "enterprise")."""
    path = wm.create_flow(flow(echo("a", "1")))
    for handler in ("on_success", "on_recovery"):
        response = wm.http.post(wm.w("schedules/create"), json=_schedule(wm, path, **{handler: "script/u/admin/x"}))
        assert response.status_code == 400 and "only available in enterprise version" in response.text


def test_7_schedule_create_is_200_and_update_clears_omitted_fields(wm):
    """`create_schedule -> Result<String>`; `edit_schedule` sets every column (summary included)."""
    path = wm.create_flow(flow(echo("a", "1")))
    body = _schedule(wm, path, summary="nightly", no_flow_overlap=True)
    created = wm.http.post(wm.w("schedules/create"), json=body)
    assert created.status_code == 200 and created.text == body["path"]
    update = wm.http.post(wm.w("schedules/update/" + body["path"]),
                          json={"schedule": "0 0 1 1 1 *", "timezone": "UTC", "args": {}})
    assert update.status_code == 200, update.text
    stored = wm.http.get(wm.w("schedules/get/" + body["path"])).json()
    assert stored["schedule"] == "0 0 1 1 1 *" and not stored.get("summary") and not stored.get("no_flow_overlap")
    wm.http.delete(wm.w("schedules/delete/" + body["path"]))


# ---- 9: cancel body, run_wait_result on failure, timeout <= 0 -------------------------------------
def test_9_cancel_needs_a_json_body(wm):
    """`cancel_job_api(…, Json(CancelJob { reason }))` (windmill-api/src/jobs.rs@v1.788.0)."""
    job_id = wm.run(wm.create_flow(flow(bash("s", "sleep 20"))))
    url = wm.w("jobs_u/queue/cancel/" + job_id)
    assert wm.http.post(url).status_code in (400, 415)
    assert wm.http.post(url, json={"reason": "test"}).status_code == 200
    assert wm.wait(job_id)["canceled"] is True


def test_9_run_wait_result_of_a_failing_flow_is_422(wm):
    """windmill-api-jobs/src/execution.rs@v1.788.0 `result_to_response`: UNPROCESSABLE_ENTITY."""
    path = wm.create_flow(flow(bash("s", "exit 1")))
    response = wm.http.post(wm.w("jobs/run_wait_result/f/" + path), json={})
    assert response.status_code == 422 and response.json()["error"]["name"] == "ExecutionErr"


def test_9_step_timeout_zero_means_no_timeout(wm):
    """worker_flow.rs@v1.788.0 `effective_flow_step_timeout`: `<= 0` is no override."""
    step = dict(bash("s", "sleep 1\necho finished"), timeout=static(0))
    job = wm.run_flow(flow(step))
    assert job["success"] is True and job["result"] == "finished"


# ---- 10: branchone result and job paths -----------------------------------------------------------
def test_10_branchone_result_and_paths(wm):
    """The chosen branch's last result; the branch sub-flow is `<flow>/branchone-<i + 1>` (0 for the
    default) and a step `<flow>/<module id>` (worker_flow.rs@v1.788.0 `get_path`, `branch_idx`)."""
    branch = {"id": "b", "value": {"type": "branchone", "default": [echo("d", "'default'")],
                                   "branches": [{"expr": "false", "modules": [echo("x", "'x'")]},
                                                {"expr": "true", "modules": [echo("y1", "'y1'"), echo("y2", "'y2'")]}]}}
    path = wm.create_flow(flow(echo("first", "1"), branch))
    job = wm.wait(wm.run(path))
    assert job["success"] is True and job["result"] == "y2"
    modules = job["flow_status"]["modules"]
    assert wm.job(modules[0]["job"])["script_path"] == path + "/first"
    assert wm.job(modules[1]["job"])["script_path"] == path + "/branchone-2"
