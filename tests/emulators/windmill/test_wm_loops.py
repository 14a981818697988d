"""forloopflow and whileloopflow (windmill.md §8.1, §8.2; worker_flow.rs, flows.rs defaults)."""
from __future__ import annotations

import time

from wmhelpers import bash, echo, emit_json, flow, forloop, js, static


def test_sequential_loop_result_is_ordered_array(wm):
    loop = forloop("l", js("['a', 'b', 'c']"), [echo("s", "flow_input.iter.value + flow_input.iter.index")],
                   skip_failures=False)
    job = wm.run_flow(flow(loop))
    assert job["result"] == ["a0", "b1", "c2"]
    status = job["flow_status"]["modules"][0]
    assert len(status["flow_jobs"]) == 3 and status["flow_jobs_success"] == [True, True, True]


def test_iteration_args_keep_enclosing_flow_input(wm):
    loop = forloop("l", js("[1, 2]"), [echo("s", "flow_input.base + flow_input.iter.value")], skip_failures=False)
    assert wm.run_flow(flow(loop), {"base": 10})["result"] == ["11", "12"]


def test_parallel_loop_runs_iterations_concurrently_in_order(wm):
    body = [bash("s", 'V="$1"\nsleep 0.6\necho "$V"', V=js("flow_input.iter.value"))]
    loop = forloop("l", js("[3, 2, 1, 0]"), body, parallel=True, skip_failures=False)
    started = time.monotonic()
    job = wm.run_flow(flow(loop))
    assert job["result"] == ["3", "2", "1", "0"]
    assert time.monotonic() - started < 2.0  # 4 x 0.6 s sequentially would be 2.4 s


def test_parallelism_bounds_concurrency(wm, tmp_path):
    counter = tmp_path / "running"
    counter.mkdir()
    script = ('D="$1"\ntouch "$D/$$"\nsleep 0.3\nls "$D" | wc -l > "$D/../peak.$$"\nrm "$D/$$"\necho ok')
    loop = forloop("l", js("[1, 2, 3, 4]"), [bash("s", script, D=static(str(counter)))],
                   parallel=True, parallelism=static(2), skip_failures=False)
    job = wm.run_flow(flow(loop))
    assert job["success"] is True
    peaks = [int(p.read_text()) for p in tmp_path.glob("peak.*")]
    assert len(peaks) == 4 and max(peaks) <= 2


def _fail_on_one():
    return [bash("s", 'V="$1"\n[ "$V" != 1 ] || exit 1\necho "$V"', V=js("flow_input.iter.value"))]


def test_skip_failures_true_keeps_error_objects(wm):
    job = wm.run_flow(flow(forloop("l", js("[0, 1, 2]"), _fail_on_one(), skip_failures=True)))
    assert job["success"] is True
    assert job["result"][0] == "0" and job["result"][2] == "2"
    assert job["result"][1]["error"]["name"] == "ExecutionErr"


def test_missing_skip_failures_deployed_true_preview_false(wm):
    """The server accepts an omitted `skip_failures` (serde); a deployed flow stores it as true
    (flows.rs@v1.788.0 `unwrap_or(true)`, re-serialized by the dependency job), a preview reads it
    raw with `unwrap_or(false)` (worker_flow.rs@v1.788.0)."""
    loop = {"id": "l", "value": {"type": "forloopflow", "iterator": js("[0, 1, 2]"), "modules": _fail_on_one()}}
    deployed = wm.run_flow(flow(loop))
    assert deployed["success"] is True and deployed["result"][1]["error"]["name"] == "ExecutionErr"
    preview = wm.run_preview(flow(loop))
    assert preview["success"] is False and len(preview["result"]) == 2


def test_skip_failures_false_fails_the_loop(wm):
    body = [bash("s", 'V="$1"\n[ "$V" != 1 ] || exit 1\necho "$V"', V=js("flow_input.iter.value"))]
    job = wm.run_flow(flow(forloop("l", js("[0, 1, 2]"), body, skip_failures=False), echo("after", "'no'")))
    assert job["success"] is False
    assert job["flow_status"]["modules"][0]["flow_jobs_success"] == [True, False]
    assert job["flow_status"]["modules"][1]["type"] == "WaitingForPriorSteps"


def test_iterator_must_be_an_array(wm):
    job = wm.run_flow(flow(forloop("l", js("({a: 1})"), [echo("s", "1")], skip_failures=False)))
    assert job["success"] is False
    assert "Expected an array value in the iterator expression" in job["result"]["error"]["message"]


def test_empty_iterator_gives_empty_array(wm):
    job = wm.run_flow(flow(forloop("l", js("[]"), [echo("s", "1")], skip_failures=False)))
    assert job["success"] is True and job["result"] == []


def test_nested_loops_rename_outer_iter_to_iter_parent(wm):
    inner = forloop("inner", js("[10, 20]"),
                    [echo("s", "`${flow_input.iter_parent.index}-${flow_input.iter.index}:${flow_input.iter.value}`")],
                    skip_failures=False)
    outer = forloop("outer", js("['a', 'b']"), [inner], skip_failures=False)
    job = wm.run_flow(flow(outer))
    assert job["result"] == [["0-0:10", "0-1:20"], ["1-0:10", "1-1:20"]]


def test_three_levels_reach_iter_parent_parent(wm):
    level3 = forloop("l3", js("[0]"), [echo("s", "flow_input.iter_parent_parent.value + flow_input.iter_parent.value"
                                            " + flow_input.iter.value")], skip_failures=False)
    level2 = forloop("l2", js("['y']"), [level3], skip_failures=False)
    job = wm.run_flow(flow(forloop("l1", js("['x']"), [level2], skip_failures=False)))
    assert job["result"] == [[["xy0"]]]


def test_loop_body_reads_outer_results(wm):
    first = emit_json("first", "{k: 'v'}")
    loop = forloop("l", js("[1]"), [echo("s", "results.first.k")], skip_failures=False)
    assert wm.run_flow(flow(first, loop))["result"] == ["v"]


def test_iteration_result_is_its_last_module(wm):
    body = [echo("a", "'one'"), echo("b", "results.a + '-two'")]
    assert wm.run_flow(flow(forloop("l", js("[1, 2]"), body, skip_failures=False)))["result"] == ["one-two"] * 2


def test_parallel_iteration_is_its_own_root_flow(wm):
    script = 'echo "$WM_ROOT_FLOW_JOB_ID $WM_FLOW_JOB_ID"'
    seq = forloop("seq", js("[1]"), [bash("a", script)], skip_failures=False)
    par = forloop("par", js("[1]"), [bash("b", script)], parallel=True, skip_failures=False)
    job = wm.run_flow(flow(seq, par))
    seq_root, seq_flow = wm.job(job["flow_status"]["modules"][0]["flow_jobs"][0])["result"].split()
    par_root, par_flow = job["result"][0].split()
    iteration = job["flow_status"]["modules"][1]["flow_jobs"][0]
    assert seq_root == job["id"]  # sequential: root_job inherited (worker_flow.rs)
    assert par_root == iteration == par_flow  # parallel: root_job None, the iteration is the root


def test_while_loop_runs_until_stop_after_if(wm):
    body = [dict(echo("s", "flow_input.iter.index + ':' + flow_input.iter.value"),
                 stop_after_if={"expr": "result == '2:2'", "skip_if_stopped": False})]
    loop = {"id": "w", "value": {"type": "whileloopflow", "modules": body, "skip_failures": False}}
    job = wm.run_flow(flow(loop, echo("after", "results.w.length")))
    assert job["success"] is True
    assert job["result"] == "3"


def test_stop_after_if_in_sequential_loop_only_breaks_the_loop(wm):
    body = [dict(echo("s", "flow_input.iter.value"), stop_after_if={"expr": "result == 'b'", "skip_if_stopped": False})]
    job = wm.run_flow(flow(forloop("l", js("['a', 'b', 'c']"), body, skip_failures=False), echo("after", "'ran'")))
    assert job["result"] == "ran"
    assert job["flow_status"]["modules"][0]["flow_jobs_success"] == [True, True]


def test_loop_retries_a_failing_body_step_with_same_args(wm, tmp_path):
    marker = tmp_path / "attempts"
    script = 'M="$1"\nV="$2"\necho x >> "$M.$V"\n[ "$(wc -l < "$M.$V")" -ge 2 ] || exit 1\necho "ok-$V"'
    step = dict(bash("s", script, M=static(str(marker)), V=js("flow_input.iter.value")),
                retry={"constant": {"attempts": 2, "seconds": 0}})
    job = wm.run_flow(flow(forloop("l", js("[1, 2]"), [step], skip_failures=False)))
    assert job["result"] == ["ok-1", "ok-2"]


def test_simple_loop_body_runs_without_sub_flow(wm):
    """worker_flow.rs `is_simple_modules`: a lone plain body module is pushed under the flow
    itself, with path `<flow>/loop-<i>`, the loop's step id and previous iteration result."""
    script = 'P="$1"\necho "$P|$WM_FLOW_STEP_ID|$WM_JOB_PATH|$WM_FLOW_JOB_ID"'
    body = [bash("s", script, P=js("previous_result"))]
    path = wm.create_flow(flow(echo("first", "'start'"), forloop("l", js("[1, 2]"), body, skip_failures=False)))
    job = wm.wait(wm.run(path))
    first, second = job["result"]
    assert first.split("|") == ["start", "l", path + "/loop-0", job["id"]]
    assert second.startswith(first + "|l|" + path + "/loop-1|")  # previous_result = iteration 0
    assert wm.job(job["flow_status"]["modules"][1]["flow_jobs"][0])["job_kind"] == "flowscript"


def test_non_simple_loop_iterations_are_sub_flows(wm):
    script = 'echo "$WM_FLOW_JOB_ID|$WM_FLOW_PATH|$WM_JOB_PATH"'
    body = [echo("a", "1"), bash("b", script)]
    path = wm.create_flow(flow(forloop("l", js("[1]"), body, skip_failures=False)))
    job = wm.wait(wm.run(path))
    iteration = job["flow_status"]["modules"][0]["flow_jobs"][0]
    assert wm.job(iteration)["script_path"] == path + "/loop-0"
    assert job["result"] == ["%s|%s/loop-0|%s/loop-0/b" % (iteration, path, path)]  # get_path: <flow>/<module id>


def test_parallel_iterations_have_forloop_paths(wm):
    path = wm.create_flow(flow(forloop("l", js("[1, 2]"), [echo("a", "1")], parallel=True, skip_failures=False)))
    job = wm.wait(wm.run(path))
    paths = [wm.job(j)["script_path"] for j in job["flow_status"]["modules"][0]["flow_jobs"]]
    assert paths == [path + "/forloop-0", path + "/forloop-1"]


def test_stop_after_if_on_the_loop_module_breaks_a_while_loop(wm):
    loop = {"id": "w", "value": {"type": "whileloopflow", "skip_failures": False,
                                 "modules": [echo("s", "flow_input.iter.index")]},
            "stop_after_if": {"expr": "result === '3'", "skip_if_stopped": False}}
    job = wm.run_flow(flow(loop, echo("after", "results.w.join(',')")))
    assert job["success"] is True and job["result"] == "0,1,2,3"
