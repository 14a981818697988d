"""`flow` modules (deployed sub-flows), `script` modules, flow-level skip_expr and
stop_after_all_iters_if (windmill.md §2.2, §2.3, §3)."""
from __future__ import annotations

from wmhelpers import bash, echo, emit_json, flow, forloop, js


def test_flow_module_runs_a_deployed_flow_as_its_own_root(wm):
    child = wm.create_flow(flow(bash("inner", 'X="$1"\necho "$X $WM_ROOT_FLOW_JOB_ID $WM_FLOW_JOB_ID"',
                                     X=js("flow_input.x + 'ok'"))))
    parent = flow(emit_json("outer_only", "1"),
                  {"id": "sub", "value": {"type": "flow", "path": child, "input_transforms": {"x": js("'v-'")}}})
    job = wm.run_flow(parent)
    assert job["success"] is True
    text, root, flow_job = job["result"].split()
    sub_job = job["flow_status"]["modules"][1]["job"]
    assert text == "v-ok"
    assert root == sub_job == flow_job  # worker_flow.rs: a `flow` module gets root_job None
    assert wm.job(sub_job)["script_path"] == child


def test_failing_sub_flow_fails_the_parent(wm):
    child = wm.create_flow(flow(bash("inner", "exit 1")))
    job = wm.run_flow(flow({"id": "sub", "value": {"type": "flow", "path": child, "input_transforms": {}}}))
    assert job["success"] is False and job["result"]["error"]["step_id"] == "inner"


def test_missing_sub_flow_and_script_modules_fail_clearly(wm):
    job = wm.run_flow(flow({"id": "sub", "value": {"type": "flow", "path": "f/tests/absent", "input_transforms": {}}}))
    assert job["success"] is False and "f/tests/absent" in job["result"]["error"]["message"]
    job = wm.run_flow(flow({"id": "s", "value": {"type": "script", "path": "f/tests/script", "input_transforms": {}}}))
    assert job["success"] is False and "script not found" in job["result"]["error"]["message"]


def test_skip_expr_skips_the_whole_flow(wm):
    value = flow(bash("a", "exit 1"), skip_expr="flow_input.skip === true")
    job = wm.run_flow(value, {"skip": True})
    assert job["success"] is True and job["is_skipped"] is True
    assert wm.run_flow(value, {"skip": False})["success"] is False


def test_stop_after_all_iters_if_sees_all_iters(wm):
    loop = dict(forloop("l", js("[1, 2, 3]"), [echo("s", "flow_input.iter.value")], skip_failures=False),
                stop_after_all_iters_if={"expr": "all_iters.length === 3 && result[2] === '3'", "skip_if_stopped": False})
    job = wm.run_flow(flow(loop, echo("after", "'not reached'")))
    assert job["success"] is True and job["result"] == ["1", "2", "3"]


def test_whitespace_and_comments_in_expressions(wm):
    """The trimmed expression becomes `return <expr>;` (windmill-jseval/src/lib.rs@v1.788.0): a
    trailing comment is harmless, a leading line comment leaves a bare `return` (ASI): null."""
    trailing = bash("a", 'V="$1"\necho "$V"', V=js("  flow_input.n + 1  // a comment"))
    assert wm.run_flow(flow(trailing), {"n": 1})["result"] == "2"
    leading = bash("a", 'V="$1"\necho "$V"', V=js("// a comment\n  flow_input.n + 1  "))
    assert wm.run_flow(flow(leading), {"n": 1})["result"] == "null"
