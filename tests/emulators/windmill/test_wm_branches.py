"""branchall, branchone, identity, same_worker (windmill.md §3, §8.3, §8.4, §9)."""
from __future__ import annotations

import time

from wmhelpers import bash, echo, emit_json, flow, js


def branchall(module_id, *bodies, **extra):
    value = {"type": "branchall", "branches": [dict({"modules": b[0]}, **b[1]) for b in bodies]}
    value.update(extra)
    return {"id": module_id, "value": value}


def failing(module_id):
    return bash(module_id, "exit 1")


def test_branchall_result_is_array_in_branch_order(wm):
    job = wm.run_flow(flow(branchall("b", ([echo("x", "'one'")], {}), ([echo("y", "'two'")], {}))))
    assert job["success"] is True and job["result"] == ["one", "two"]
    assert job["flow_status"]["modules"][0]["branchall"]["len"] == 2


def test_branchall_is_parallel_by_default(wm):
    slow = 'sleep 0.7\necho done'
    started = time.monotonic()
    job = wm.run_flow(flow(branchall("b", ([bash("x", slow)], {}), ([bash("y", slow)], {}), ([bash("z", slow)], {}))))
    assert job["result"] == ["done"] * 3
    assert time.monotonic() - started < 1.9


def test_branchall_sequential_when_parallel_false(wm, tmp_path):
    log = tmp_path / "order"
    step = lambda i: bash("s%d" % i, 'L="$1"\nsleep 0.%d\necho %d >> "$L"\necho %d' % (3 - i, i, i), L={"type": "static", "value": str(log)})
    job = wm.run_flow(flow(branchall("b", ([step(1)], {}), ([step(2)], {}), parallel=False)))
    assert job["result"] == ["1", "2"]
    assert log.read_text().split() == ["1", "2"]


def test_branchall_missing_skip_failure_deployed_vs_preview(wm):
    """Deployed: the stored value spells out `Branch.skip_failure` = true (serde default, re-serialized
    by worker_lockfiles.rs@v1.788.0); preview: read raw, `unwrap_or(false)` (worker_flow.rs@v1.788.0)."""
    value = flow(branchall("b", ([echo("x", "1")], {}), ([failing("y")], {})), echo("after", "2"))
    deployed = wm.run_flow(value)
    assert deployed["success"] is True and deployed["result"] == "2"
    preview = wm.run_preview(value)
    assert preview["success"] is False
    assert preview["result"][0] == "1" and preview["result"][1]["error"]["step_id"] == "y"


def test_branchall_skip_failure_keeps_error_object(wm):
    job = wm.run_flow(flow(branchall("b", ([echo("x", "1")], {}), ([failing("y")], {"skip_failure": True}))))
    assert job["success"] is True
    assert job["result"][0] == "1" and job["result"][1]["error"]["step_id"] == "y"


def test_branch_sees_outer_results_and_flow_args_as_previous_result(wm):
    """A branch sub-flow's args are the flow's args, and a first module's previous_result is
    its flow's args (worker_flow.rs), not the result before the branch."""
    first = emit_json("first", "{v: 3}")
    job = wm.run_flow(flow(first, branchall("b", ([echo("x", "results.first.v + previous_result.v")], {}))), {"v": 10})
    assert job["result"] == ["13"]


def test_branch_sub_flows_are_jobs_with_branch_paths(wm):
    path = wm.create_flow(flow(branchall("b", ([echo("x", "1")], {}), ([echo("y", "2")], {}))))
    job = wm.wait(wm.run(path))
    subs = [wm.job(j) for j in job["flow_status"]["modules"][0]["flow_jobs"]]
    assert [s["script_path"] for s in subs] == [path + "/branchall-0", path + "/branchall-1"]
    assert all(s["job_kind"] == "flow" and s["parent_job"] == job["id"] for s in subs)


def test_stop_inside_a_branch_stops_the_enclosing_flow(wm):
    inner = dict(echo("x", "'stop-here'"), stop_after_if={"expr": "true", "skip_if_stopped": False})
    value = flow(branchone("sw", [("true", [inner])], [echo("d", "1")]), echo("after", "'not reached'"))
    job = wm.run_flow(value)
    assert job["success"] is True and job["result"] == "stop-here"
    assert job["flow_status"]["modules"][1]["type"] == "WaitingForPriorSteps"


def test_empty_branch_returns_the_flow_args(wm):
    job = wm.run_flow(flow(branchone("sw", [("true", [])], [echo("d", "1")])), {"a": 1})
    assert job["result"] == {"a": 1}


def branchone(module_id, cases, default):
    return {"id": module_id, "value": {"type": "branchone", "default": default,
                                       "branches": [{"expr": e, "modules": m} for e, m in cases]}}


def test_branchone_runs_first_truthy_branch(wm):
    value = flow(emit_json("s", "{branch: 'b'}"),
                 branchone("sw", [("results.s.branch === 'a'", [echo("a", "'A'")]),
                                  ("results.s.branch === 'b'", [echo("b", "'B'")]),
                                  ("true", [echo("c", "'C'")])], [echo("d", "'D'")]))
    job = wm.run_flow(value)
    assert job["result"] == "B"
    assert job["flow_status"]["modules"][1]["branch_chosen"] == {"type": "branch", "branch": 1}


def test_branchone_default_when_nothing_matches(wm):
    value = flow(branchone("sw", [("flow_input.x > 10", [echo("a", "'A'")])], [echo("d", "'D'")]))
    job = wm.run_flow(value, {"x": 1})
    assert job["result"] == "D" and job["flow_status"]["modules"][0]["branch_chosen"] == {"type": "default"}


def test_branchone_expr_sees_previous_result_as_result(wm):
    value = flow(emit_json("s", "7"), branchone("sw", [("result === 7", [echo("a", "'seven'")])], [echo("d", "'D'")]))
    assert wm.run_flow(value)["result"] == "seven"


def test_identity_returns_previous_result(wm):
    job = wm.run_flow(flow(emit_json("s", "[1, 2]"), {"id": "i", "value": {"type": "identity"}}))
    assert job["result"] == [1, 2]


def test_same_worker_rejects_parallel_branches(wm):
    value = flow(branchall("b", ([echo("x", "1")], {}), ([echo("y", "2")], {})), same_worker=True)
    job = wm.run_flow(value)
    assert job["success"] is False
    assert "parallel cannot be used in conjunction with same_worker" in job["result"]["error"]["message"]


def test_same_worker_rejects_parallel_loop_with_several_iterations(wm):
    loop = {"id": "l", "value": {"type": "forloopflow", "iterator": js("[1, 2]"), "parallel": True,
                                 "skip_failures": False, "modules": [echo("s", "1")]}}
    job = wm.run_flow(flow(loop, same_worker=True))
    assert job["success"] is False and job["result"]["error"]["name"] == "BadRequest"


def test_same_worker_sequential_steps_share_the_shared_dir(wm):
    value = flow(bash("w", "echo hello > shared/f\necho w"), bash("r", "cat shared/f"),
                 branchall("b", ([bash("x", "cat shared/f")], {}), parallel=False), same_worker=True)
    job = wm.run_flow(value)
    assert job["success"] is True and job["result"] == ["hello"]
