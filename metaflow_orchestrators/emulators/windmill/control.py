"""What happens around any module: skip_if, mock, retries, continue_on_error, stop_after_if.

Source: worker_flow.rs (`push_next_flow_job`: skip_if/mock/retry args;
`update_flow_status_after_job_completion`: stop early, continue_on_error, retry status) and
windmill.md §2.3, §7.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, Optional

from . import modules as module_runners
from .jsengine import JsError
from .retry import retry_delay

if TYPE_CHECKING:  # pragma: no cover
    from .executor import Engine, Frame, Outcome

LOOP_TYPES = ("forloopflow", "whileloopflow")


def _outcome(*args: Any, **kwargs: Any) -> "Outcome":
    from .executor import Outcome
    return Outcome(*args, **kwargs)


def _error(name: str, message: str, step_id: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
    from .executor import error_result
    return error_result(name, message, step_id, **extra)


def set_status(frame: "Frame", mstatus: Dict[str, Any], **values: Any) -> None:
    with frame.job.lock:
        mstatus.update(values)


def interruptible_sleep(frame: "Frame", seconds: float) -> bool:
    """Sleep unless the flow is canceled meanwhile; False if it was."""
    deadline = time.monotonic() + max(0.0, seconds)
    while time.monotonic() < deadline:
        if frame.canceled():
            return False
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    return not frame.canceled()


def run_module(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any], module: Dict[str, Any],
               previous: Any, extra_scope: Optional[Dict[str, Any]] = None) -> "Outcome":
    """One module with its wrappers; sets the module's `FlowStatusModule` type."""
    extra = dict(extra_scope or {})
    try:
        # skip_if sees flow_input, results, previous_result/result; true -> identity job, `skipped`.
        if module.get("skip_if") and engine.js.truthy(module["skip_if"]["expr"],
                                                      frame.scope(previous, result=previous, **extra)):
            set_status(frame, mstatus, type="Success", skipped=True)
            return _outcome(True, previous)
    except JsError as exc:
        set_status(frame, mstatus, type="Failure")
        return _outcome(False, _error("ExecutionErr", str(exc), module.get("id")))
    mock = module.get("mock") or {}
    if mock.get("enabled"):
        # mock: an identity job whose result is `return_value` (compute_next_flow_transform).
        set_status(frame, mstatus, type="Success")
        return _outcome(True, mock.get("return_value"))
    outcome = _run_with_retries(engine, frame, index, mstatus, module, previous, extra)
    if not outcome.success and module.get("continue_on_error") and not frame.canceled():
        # continue_on_error (after retries): the error object becomes the step result.
        outcome = _outcome(True, outcome.result, job_id=outcome.job_id)
    if outcome.success and not outcome.stopped:
        outcome = _stop_after_if(engine, frame, module, outcome)
    set_status(frame, mstatus, type="Success" if outcome.success else "Failure")
    return outcome


def _run_with_retries(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any],
                      module: Dict[str, Any], previous: Any, extra: Dict[str, Any]) -> "Outcome":
    """A retry re-runs the module with the args of the last failed job (`get_args_from_id`);
    the flow's `flow_status.retry` holds `fail_count`/`failed_jobs` while retrying and is
    removed when the module then succeeds (worker_flow.rs, windmill.md §7)."""
    retry = module.get("retry")
    runner = module_runners.runner_for((module.get("value") or {}).get("type"))
    args: Optional[Dict[str, Any]] = None
    failures = 0
    failed_jobs = []
    while True:
        set_status(frame, mstatus, type="InProgress")
        outcome, args = runner(engine, frame, index, mstatus, module, previous, extra, args)
        if outcome.success or frame.canceled() or outcome.handled:
            break
        failures += 1
        delay = retry_delay(retry, failures)
        if delay is None or not _retry_if(engine, frame, retry, outcome):
            break
        if outcome.job_id:
            failed_jobs.append(outcome.job_id)
        with frame.job.lock:
            frame.job.flow_status["retry"] = {"fail_count": failures, "failed_jobs": list(failed_jobs)}
            mstatus["failed_retries"] = list(failed_jobs)
        if not interruptible_sleep(frame, delay):
            break
    if outcome.success and failures:
        with frame.job.lock:
            frame.job.flow_status.pop("retry", None)
    return outcome


def _retry_if(engine: "Engine", frame: "Frame", retry: Optional[Dict[str, Any]], outcome: "Outcome") -> bool:
    """`retry_if.expr` false -> no retry; it sees `result` and `error` (windmill.md §7)."""
    expr = ((retry or {}).get("retry_if") or {}).get("expr")
    if not expr:
        return True
    error = outcome.result.get("error") if isinstance(outcome.result, dict) else None
    try:
        return engine.js.truthy(expr, {"result": outcome.result, "error": error,
                                       "flow_input": frame.flow_input})
    except JsError:
        return False


def _stop_after_if(engine: "Engine", frame: "Frame", module: Dict[str, Any], outcome: "Outcome") -> "Outcome":
    """After a module succeeds (update_flow_status_after_job_completion):

    - `stop_after_if` (`Boolean(expr)` with `result`, `previous_result`, `flow_input`) stops
      the flow; not for branchall, and for loops it is evaluated per iteration instead
      (modules.py), where it only breaks the loop;
    - `stop_after_all_iters_if` on a loop or branchall sees the whole result array."""
    kind = (module.get("value") or {}).get("type")
    rule = None
    scope_extra: Dict[str, Any] = {"result": outcome.result}
    if kind in LOOP_TYPES or kind == "branchall":
        rule = module.get("stop_after_all_iters_if")
        scope_extra["all_iters"] = outcome.result
    else:
        rule = module.get("stop_after_if")
    if not rule:
        return outcome
    try:
        stop = engine.js.truthy(rule["expr"], frame.scope(outcome.result, **scope_extra))
    except JsError as exc:
        return _outcome(False, _error("ExecutionErr", str(exc), module.get("id")))
    if not stop:
        return outcome
    return stopped_outcome(rule, module, outcome)


def stopped_outcome(rule: Dict[str, Any], module: Dict[str, Any], outcome: "Outcome") -> "Outcome":
    """A fired stop rule: with `error_message` the flow fails (empty = default message),
    else it stops successfully, marked skipped when `skip_if_stopped` (openflow StopAfterIf)."""
    message = rule.get("error_message")
    if message is not None:
        extra = {"result": outcome.result} if rule.get("error_include_result") else {}
        return _outcome(False, _error("StopAfterIf", message or "Flow early stop", module.get("id"), **extra))
    return _outcome(True, outcome.result, stopped=True, skipped=bool(rule.get("skip_if_stopped")),
                    job_id=outcome.job_id)
