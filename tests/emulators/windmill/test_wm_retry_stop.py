"""Module retry, timeout, stop_after_if, skip_if, continue_on_error, failure_module, mock,
sleep, cancellation (windmill.md §2.3, §7, §11)."""
from __future__ import annotations

import time

from metaflow_orchestrators.emulators.windmill.retry import max_attempts, retry_delay
from wmhelpers import bash, echo, flow, js, python, static


def counting(module_id, marker, succeed_at):
    """Fails until its attempt number reaches ``succeed_at`` (counted in a file)."""
    script = ('M="$1"\necho x >> "$M"\nN=$(wc -l < "$M")\n[ "$N" -ge %d ] || { echo "attempt $N failed"; exit 1; }\n'
              'echo "attempt $N"' % succeed_at)
    return bash(module_id, script, M=static(str(marker)))


def test_retry_delay_schedule_constant_then_exponential():
    retry = {"constant": {"attempts": 2, "seconds": 5}, "exponential": {"attempts": 2, "multiplier": 3, "seconds": 2}}
    assert [retry_delay(retry, n) for n in (1, 2, 3, 4, 5)] == [5, 5, 3 * 2 ** 3, 3 * 2 ** 4, None]
    assert max_attempts(retry) == 5
    assert retry_delay(None, 1) is None
    capped = {"exponential": {"attempts": 5, "multiplier": 1, "seconds": 65535}}
    assert retry_delay(capped, 2) == 6 * 3600


def test_constant_retry_succeeds_on_third_attempt(wm, tmp_path):
    step = dict(counting("s", tmp_path / "m", 3), retry={"constant": {"attempts": 2, "seconds": 0}})
    job = wm.run_flow(flow(step))
    assert job["success"] is True and job["result"] == "attempt 3"
    assert len(job["flow_status"]["modules"][0]["failed_retries"]) == 2


def test_retries_exhausted_fails(wm, tmp_path):
    step = dict(counting("s", tmp_path / "m", 5), retry={"constant": {"attempts": 1, "seconds": 0}})
    job = wm.run_flow(flow(step))
    assert job["success"] is False and (tmp_path / "m").read_text().count("x") == 2


def test_exponential_retry_waits(wm, tmp_path):
    step = dict(counting("s", tmp_path / "m", 2), retry={"exponential": {"attempts": 1, "multiplier": 1, "seconds": 1}})
    started = time.monotonic()
    job = wm.run_flow(flow(step))
    assert job["success"] is True and time.monotonic() - started >= 1.0


def test_retry_reuses_args_of_the_failed_job(wm, tmp_path):
    script = 'T="$1"\nM="$2"\necho "$T" >> "$M"\n[ "$(wc -l < "$M")" -ge 2 ] || exit 1\ncat "$M" | tr "\\n" " "'
    step = dict(bash("s", script, T=js("String(Math.random())"), M=static(str(tmp_path / "m"))),
                retry={"constant": {"attempts": 1, "seconds": 0}})
    job = wm.run_flow(flow(step))
    first, second = job["result"].split()
    assert first == second


def test_fail_count_visible_to_the_retried_job(wm, tmp_path):
    script = ('import json, os, urllib.request\n'
              'def main(m):\n'
              '    url = "%s/api/w/%s/jobs_u/get/%s?no_logs=true" % (os.environ["BASE_INTERNAL_URL"],\n'
              '        os.environ["WM_WORKSPACE"], os.environ["WM_FLOW_JOB_ID"])\n'
              '    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["WM_TOKEN"]})\n'
              '    count = json.load(urllib.request.urlopen(req))["flow_status"]["retry"]["fail_count"]\n'
              '    with open(m, "a") as f:\n'
              '        f.write("%d\\n" % count)\n'
              '    if count < 2:\n'
              '        raise RuntimeError("attempt %d" % count)\n'
              '    return count\n')
    step = dict(python("p", script, m=static(str(tmp_path / "m"))), retry={"constant": {"attempts": 3, "seconds": 0}})
    job = wm.run_flow(flow(step))
    assert job["result"] == 2
    assert (tmp_path / "m").read_text().split() == ["0", "1", "2"]
    # worker_flow.rs removes `retry` from flow_status once the retried module succeeds.
    assert "retry" not in job["flow_status"]


def test_retry_if_false_prevents_retry(wm, tmp_path):
    step = dict(counting("s", tmp_path / "m", 2),
                retry={"constant": {"attempts": 3, "seconds": 0}, "retry_if": {"expr": "false"}})
    job = wm.run_flow(flow(step))
    assert job["success"] is False and (tmp_path / "m").read_text().count("x") == 1


def test_timeout_kills_the_process(wm, tmp_path):
    step = dict(bash("s", 'M="$1"\nsleep 20\ntouch "$M"', M=static(str(tmp_path / "late"))), timeout=static(1))
    started = time.monotonic()
    job = wm.run_flow(flow(step))
    assert job["success"] is False and time.monotonic() - started < 8
    assert "timed out" in job["result"]["error"]["message"]
    assert not (tmp_path / "late").exists()


def test_bare_integer_timeout_is_accepted(wm):
    step = dict(bash("s", "sleep 5"), timeout=1)
    job = wm.run_flow(flow(step))
    assert job["success"] is False


def test_timeout_then_retry(wm, tmp_path):
    script = 'M="$1"\necho x >> "$M"\n[ "$(wc -l < "$M")" -ge 2 ] || sleep 20\necho second'
    step = dict(bash("s", script, M=static(str(tmp_path / "m"))), timeout=static(1),
                retry={"constant": {"attempts": 1, "seconds": 0}})
    assert wm.run_flow(flow(step))["result"] == "second"


def test_stop_after_if_stops_the_flow_successfully(wm):
    job = wm.run_flow(flow(dict(echo("a", "'stop'"), stop_after_if={"expr": "result === 'stop'", "skip_if_stopped": False}), echo("b", "'no'")))
    assert job["success"] is True and job["result"] == "stop"
    assert job["flow_status"]["modules"][1]["type"] == "WaitingForPriorSteps"


def test_stop_after_if_with_error_message_fails(wm):
    rule = {"expr": "flow_input.bad", "skip_if_stopped": False, "error_message": "bad input"}
    job = wm.run_flow(flow(dict(echo("a", "1"), stop_after_if=rule), echo("b", "2")), {"bad": True})
    assert job["success"] is False and job["result"]["error"]["message"] == "bad input"


def test_stop_after_if_skip_if_stopped_marks_skipped(wm):
    job = wm.run_flow(flow(dict(echo("a", "1"), stop_after_if={"expr": "true", "skip_if_stopped": True})))
    assert job["success"] is True and job["is_skipped"] is True


def test_skip_if_replaces_module_by_identity(wm):
    value = flow(echo("a", "'x'"), dict(echo("b", "'y'"), skip_if={"expr": "flow_input.skip"}))
    job = wm.run_flow(value, {"skip": True})
    assert job["result"] == "x" and job["flow_status"]["modules"][1]["skipped"] is True


def test_continue_on_error_makes_the_error_the_result(wm):
    value = flow(dict(bash("a", "exit 2"), continue_on_error=True), echo("b", "previous_result.error.step_id"))
    job = wm.run_flow(value)
    assert job["success"] is True and job["result"] == "a"


def test_failure_module_receives_the_error(wm, tmp_path):
    failure = bash("failure", 'M="$1"\nS="$2"\necho "$M|$S" > "$3"\necho handled',
                   M=js("error.message"), S=js("error.step_id"))
    failure["value"]["content"] = 'M="$1"\nS="$2"\nP="$3"\necho "$M|$S" > "$P"\necho handled'
    failure["value"]["input_transforms"]["P"] = static(str(tmp_path / "out"))
    job = wm.run_flow(flow(bash("a", "exit 4"), failure_module=failure))
    assert job["success"] is False
    assert (tmp_path / "out").read_text().strip().endswith("|a")
    assert job["flow_status"]["failure_module"]["type"] == "Success"


def test_mock_returns_value_without_running(wm):
    job = wm.run_flow(flow(dict(bash("a", "exit 1"), mock={"enabled": True, "return_value": {"m": 1}})))
    assert job["success"] is True and job["result"] == {"m": 1}


def test_sleep_applies_before_next_module(wm):
    started = time.monotonic()
    job = wm.run_flow(flow(dict(echo("a", "1"), sleep=static(1)), echo("b", "2")))
    assert job["result"] == "2" and time.monotonic() - started >= 1.0


def test_cancel_kills_running_job(wm, tmp_path):
    path = wm.create_flow(flow(bash("a", 'M="$1"\nsleep 20\ntouch "$M"', M=static(str(tmp_path / "late")))))
    job_id = wm.run(path)
    deadline = time.monotonic() + 10
    while wm.job(job_id)["flow_status"]["modules"][0].get("type") != "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    response = wm.http.post(wm.w("jobs_u/queue/cancel/" + job_id), json={"reason": "test"})
    assert response.status_code == 200
    job = wm.wait(job_id, timeout=10)
    assert job["canceled"] is True and job["success"] is False and job["canceled_reason"] == "test"
    assert not (tmp_path / "late").exists()


def test_failure_module_runs_once_inside_the_failing_iteration(wm, tmp_path):
    log = tmp_path / "failures"
    failure = bash("failure", 'L="$1"\nS="$2"\necho "$S" >> "$L"\necho handled', L=static(str(log)),
                   S=js("error.step_id"))
    body = [echo("ok", "1"), bash("bad", "exit 1")]
    loop = {"id": "l", "value": {"type": "forloopflow", "iterator": js("[1]"), "skip_failures": False,
                                 "modules": body}}
    job = wm.run_flow(flow(loop, failure_module=failure))
    # The iteration's result is the failure module's; the loop fails with the list of iteration
    # results (worker_flow.rs@v1.788.0 `retrieve_flow_jobs_results`), the handler does not run again.
    assert job["success"] is False and job["result"] == ["handled"]
    assert log.read_text().split() == ["bad"]


def test_failure_module_can_recover_the_flow(wm):
    failure = python("failure", "def main():\n    return {'recover': True, 'why': 'ok'}")
    job = wm.run_flow(flow(bash("a", "exit 1"), failure_module=failure))
    assert job["success"] is True and job["result"] == {"recover": True, "why": "ok"}


def test_skip_expr_result_is_stopped_early(wm):
    job = wm.run_flow(flow(echo("a", "1"), skip_expr="true"))
    assert job["success"] is True and job["is_skipped"] is True and job["result"] == "stopped early"


def test_sleep_of_the_last_module_is_not_applied(wm):
    started = time.monotonic()
    job = wm.run_flow(flow(dict(echo("a", "1"), sleep=static(3))))
    assert job["success"] is True and time.monotonic() - started < 2.5
