"""One runner per module `type` (worker_flow.rs `compute_next_flow_transform`; windmill.md §3, §8).

A runner is ``runner(engine, frame, index, mstatus, module, previous, extra, args)`` and
returns ``(Outcome, args)``: the args are handed back so that a retry re-runs the module with
the same args as the failed job instead of re-evaluating its input transforms (§7).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from .jsengine import JsError

if TYPE_CHECKING:  # pragma: no cover
    from .executor import Engine, Frame, Outcome

Result = Tuple["Outcome", Optional[Dict[str, Any]]]

# worker_flow.rs: the error when a same_worker flow would push several jobs at once (§9).
SAME_WORKER_ERROR = ("Cannot continue on same worker with multiple jobs, parallel cannot be used "
                     "in conjunction with same_worker")
SIMPLE_TYPES = ("rawscript", "script", "flow")
# is_simple_modules: a lone body module without any of these is run without a sub-flow.
NOT_SIMPLE_KEYS = ("sleep", "suspend", "cache_ttl", "retry", "stop_after_if", "stop_after_all_iters_if", "skip_if")


def _outcome(*args: Any, **kwargs: Any) -> "Outcome":
    from .executor import Outcome
    return Outcome(*args, **kwargs)


def _failure(module: Dict[str, Any], name: str, message: str) -> "Outcome":
    from .executor import error_result
    return _outcome(False, error_result(name, message, module.get("id")))


def _set(frame: "Frame", mstatus: Dict[str, Any], **values: Any) -> None:
    with frame.job.lock:
        mstatus.update(values)


# ---- scripts ----------------------------------------------------------------------------------
def run_rawscript(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any], module: Dict[str, Any],
                  previous: Any, extra: Dict[str, Any], args: Optional[Dict[str, Any]],
                  path: Optional[str] = None, timeout_module: Optional[Dict[str, Any]] = None,
                  step_id: Optional[str] = None) -> Result:
    """An inline script step: input transforms -> args, then a child job (windmill.md §5).
    Its path is `<flow path>/<module id>` unless the rawscript sets one (worker_flow.rs@v1.788.0
    `get_path`)."""
    value = module["value"]
    owner = timeout_module or module
    try:
        if args is None:
            args = engine.evaluate_args(frame, value.get("input_transforms") or {}, previous, **extra)
        # Module `timeout`: InputTransform or bare integer seconds (flows.rs, windmill.md §7.1).
        timeout = engine.seconds_of(frame, owner["timeout"], previous) if owner.get("timeout") is not None else None
        # A `<= 0` step timeout is no override, not an instant kill (worker_flow.rs@v1.788.0
        # `effective_flow_step_timeout`).
        timeout = timeout if timeout is not None and timeout > 0 else None
    except JsError as exc:
        return _failure(module, "ExecutionErr", str(exc)), args
    job_path = value.get("path") or path or "%s/%s" % (frame.flow_path, module.get("id", "default"))
    job = engine.child_job(frame, "flowscript", step_id or module["id"], args, frame.root_for_children(),
                           raw_code=value.get("content", ""), language=value.get("language"), script_path=job_path)
    _set(frame, mstatus, job=job.id)
    return engine.run_script_job(frame, job, timeout), args


def run_identity(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any], module: Dict[str, Any],
                 previous: Any, extra: Dict[str, Any], args: Optional[Dict[str, Any]]) -> Result:
    """`identity` returns the previous result (windmill.md §3)."""
    return _outcome(True, previous), args


def run_path_script(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any], module: Dict[str, Any],
                    previous: Any, extra: Dict[str, Any], args: Optional[Dict[str, Any]]) -> Result:
    """Deployed scripts are outside this emulator's scope: the step fails and says so."""
    return _failure(module, "NotFound", "script not found at path %s (this emulator stores flows only)"
                    % module["value"].get("path")), args


def run_path_flow(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any], module: Dict[str, Any],
                  previous: Any, extra: Dict[str, Any], args: Optional[Dict[str, Any]]) -> Result:
    """A `flow` module runs a deployed flow as a sub-flow whose result is the module result
    (windmill.md §3). It is its own root (root_job None), sees none of the caller's
    `results`, and a stop inside it does not stop the caller (worker_flow.rs `is_flow`)."""
    value = module["value"]
    flow = engine.store.flow(frame.job.workspace, value.get("path", ""))
    if flow is None:
        return _failure(module, "NotFound", "flow not found at path %s" % value.get("path")), args
    try:
        if args is None:
            args = engine.evaluate_args(frame, value.get("input_transforms") or {}, previous, **extra)
    except JsError as exc:
        return _failure(module, "ExecutionErr", str(exc)), args
    job = engine.subflow_job(frame, module["id"], [], args, None, value["path"], flow_value=flow["value"])
    _set(frame, mstatus, job=job.id)
    outcome = engine.run_subflow(frame, job, None)
    outcome.stopped = outcome.skipped = False
    return outcome, args


# ---- loops ------------------------------------------------------------------------------------
def insert_iter(flow_input: Dict[str, Any], index: int, value: Any) -> Dict[str, Any]:
    """Iteration args = enclosing args + `iter`; an existing `iter` is moved to `iter_parent`,
    recursively (`worker_flow.rs insert_iter_arg`, windmill.md §8.1)."""
    args = dict(flow_input)
    _insert(args, "iter", {"index": index, "value": value})
    return args


def _insert(args: Dict[str, Any], key: str, value: Any) -> None:
    if key in args:
        _insert(args, key + "_parent", args[key])
    args[key] = value


def is_simple_body(body: List[Dict[str, Any]], frame: "Frame") -> bool:
    """worker_flow.rs `is_simple_modules`: one script/rawscript/flow module with no sleep,
    suspend, cache, retry, stop/skip rule or mock, and no failure_module on the flow."""
    if len(body) != 1 or frame.flow_value.get("failure_module"):
        return False
    only = body[0]
    mock = only.get("mock") or {}
    return ((only.get("value") or {}).get("type") in SIMPLE_TYPES and not mock.get("enabled")
            and all(only.get(key) is None for key in NOT_SIMPLE_KEYS))


def run_forloop(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any], module: Dict[str, Any],
                previous: Any, extra: Dict[str, Any], args: Optional[Dict[str, Any]]) -> Result:
    """`forloopflow` (windmill.md §8.1, `next_forloop_status`): the iterator (with `result` and
    `previous_result` in scope) must be an array; result = iteration results in order;
    `parallel` defaults to false. `skip_failures` is read raw, `unwrap_or(false)`
    (worker_flow.rs@v1.788.0 `get_value_with_skip_failures`); a deployed flow has it spelled
    out as true when omitted (serde_model.materialize_defaults)."""
    value = module["value"]
    try:
        items = engine.evaluate_transform(frame, value.get("iterator"), previous, result=previous, **extra)
        parallelism = engine.evaluate_transform(frame, value.get("parallelism"), previous)
    except JsError as exc:
        return _failure(module, "ExecutionErr", str(exc)), args
    if not isinstance(items, list):
        return _failure(module, "ExecutionErr", "Expected an array value in the iterator expression, found: %s"
                        % json.dumps(items)), args
    parallel = bool(value.get("parallel", False))
    _set(frame, mstatus, iterator={"index": 0, "itered": items}, flow_jobs=[], flow_jobs_success=[])
    if parallel and frame.same_worker and len(items) > 1:
        return _failure(module, "BadRequest", SAME_WORKER_ERROR), args
    loop = _Loop(engine, frame, index, mstatus, module, previous, value.get("skip_failures", False))
    iter_args = [insert_iter(frame.flow_input, i, item) for i, item in enumerate(items)]
    if parallel:
        return loop.parallel(iter_args, int(parallelism) if parallelism else None), args
    return loop.sequential(iter_args), args


def run_whileloop(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any], module: Dict[str, Any],
                  previous: Any, extra: Dict[str, Any], args: Optional[Dict[str, Any]]) -> Result:
    """`whileloopflow` (windmill.md §8.2): iterate until a stop_after_if fires (on the loop
    module or in the body); `iter.value == iter.index`; `skip_failures` read raw, `unwrap_or(false)`."""
    _set(frame, mstatus, iterator={"index": 0, "itered": []}, flow_jobs=[], flow_jobs_success=[])
    loop = _Loop(engine, frame, index, mstatus, module, previous, module["value"].get("skip_failures", False))
    return loop.sequential(None), args


class _Loop:
    """Shared iteration machinery of for and while loops."""

    def __init__(self, engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any],
                 module: Dict[str, Any], previous: Any, skip_failures: bool) -> None:
        self.engine, self.frame, self.index, self.mstatus = engine, frame, index, mstatus
        self.module, self.previous, self.skip_failures = module, previous, bool(skip_failures)
        self.body = module["value"].get("modules") or []

    def sequential(self, all_args: Optional[List[Dict[str, Any]]]) -> "Outcome":
        """One iteration at a time; a stop (loop-module stop_after_if on the iteration result,
        or a stop inside the body) breaks the loop only (worker_flow.rs: "if we're stopping
        early inside a loop, we just want to break the loop instead")."""
        results: List[Any] = []
        simple = is_simple_body(self.body, self.frame)
        previous = self.previous
        i = 0
        while all_args is None or i < len(all_args):
            iter_args = all_args[i] if all_args is not None else insert_iter(self.frame.flow_input, i, i)
            _set(self.frame, self.mstatus, iterator=dict(self.mstatus["iterator"], index=i))
            if simple:
                outcome = self._simple_iteration(i, iter_args, previous)
            else:
                outcome = self._subflow_iteration(i, iter_args, "loop-%d" % i, self.frame.root_for_children())
            if self.frame.canceled():
                return outcome
            results.append(outcome.result)  # a skipped failure keeps its error object (§8.1)
            if not outcome.success and not self.skip_failures:
                # The module fails with the results of the iterations run so far, the failed one
                # last (`FlowStatusModule::Failure { flow_jobs }` -> `retrieve_flow_jobs_results`,
                # worker_flow.rs@v1.788.0).
                return _outcome(False, results, job_id=outcome.job_id, handled=outcome.handled)
            previous = outcome.result
            if outcome.stopped or self._loop_stop(outcome):
                break
            i += 1
        return _outcome(True, results)

    def _loop_stop(self, outcome: "Outcome") -> bool:
        rule = self.module.get("stop_after_if")
        if not rule or not outcome.success:
            return False
        scope = self.frame.scope(outcome.result, result=outcome.result)
        try:
            return self.engine.js.truthy(rule["expr"], scope)
        except JsError:
            return False

    def _simple_iteration(self, i: int, iter_args: Dict[str, Any], previous: Any) -> "Outcome":
        """A lone simple body module is pushed directly under the flow (no sub-flow): its path
        is `<flow>/loop-<i>`, its step id and timeout are the loop module's, and
        `previous_result` is the previous iteration's result (payload_from_simple_module)."""
        from .executor import Frame
        body = self.body[0]
        view = Frame(job=self.frame.job, flow_input=iter_args, flow_value=self.frame.flow_value,
                     top=self.frame.top, parent=self.frame.parent, up=self.frame.up, results=self.frame.results)
        kind = body["value"]["type"]
        scratch: Dict[str, Any] = {}
        if kind == "rawscript":
            outcome, _ = run_rawscript(self.engine, view, self.index, scratch, body, previous, {}, None,
                                       path="%s/loop-%d" % (self.frame.flow_path, i), timeout_module=self.module,
                                       step_id=self.module["id"])
        else:
            outcome, _ = RUNNERS[kind](self.engine, view, self.index, scratch, body, previous, {}, None)
        self._record(scratch.get("job") or outcome.job_id, outcome.success)
        return outcome

    def _subflow_iteration(self, i: int, iter_args: Dict[str, Any], name: str, root_job: Optional[str]) -> "Outcome":
        job = self.engine.subflow_job(self.frame, self.module["id"], self.body, iter_args, root_job,
                                      "%s/%s" % (self.frame.flow_path, name))
        with self.frame.job.lock:
            self.mstatus["flow_jobs"].append(job.id)
            self.mstatus["flow_jobs_success"].append(None)
        outcome = self.engine.run_subflow(self.frame, job, self.frame)
        with self.frame.job.lock:
            self.mstatus["flow_jobs_success"][-1] = outcome.success
        return outcome

    def _record(self, job_id: Optional[str], success: bool) -> None:
        with self.frame.job.lock:
            self.mstatus["flow_jobs"].append(job_id)
            self.mstatus["flow_jobs_success"].append(success)

    def parallel(self, all_args: List[Dict[str, Any]], parallelism: Optional[int]) -> "Outcome":
        """All iterations pushed at once as `<flow>/forloop-<i>` sub-flows, at most
        `parallelism` running; each is its own root (root_job None, worker_flow.rs)."""
        jobs = [self.engine.subflow_job(self.frame, self.module["id"], self.body, args, None,
                                        "%s/forloop-%d" % (self.frame.flow_path, i))
                for i, args in enumerate(all_args)]
        return run_parallel(self.engine, self.frame, self.mstatus, jobs, lambda i: self.skip_failures, parallelism)


def run_parallel(engine: "Engine", frame: "Frame", mstatus: Dict[str, Any], jobs: List[Any],
                 skip_of: Callable[[int], bool], parallelism: Optional[int]) -> "Outcome":
    """Run pushed sub-flow jobs concurrently; results in job order. No fail-fast: a finished
    iteration or branch, passed or failed, only counts towards the total; the module is judged
    when all are done, and fails if one that is not skipped failed — with the list of every
    result, each failed one as its `{"error": ...}` in its slot (worker_flow.rs@v1.788.0
    `update_flow_status_after_job_completion`, `nindex == len`, `retrieve_flow_jobs_results`)."""
    count = len(jobs)
    with frame.job.lock:
        mstatus["flow_jobs"] = [j.id for j in jobs]
        mstatus["flow_jobs_success"] = [None] * count
    outcomes: List[Optional["Outcome"]] = [None] * count

    def run_one(i: int) -> None:
        if frame.canceled():
            jobs[i].cancel_event.set()
        outcome = engine.run_subflow(frame, jobs[i], frame)
        outcomes[i] = outcome
        with frame.job.lock:
            mstatus["flow_jobs_success"][i] = outcome.success

    with engine.pool(parallelism or count) as pool:
        list(pool.map(run_one, range(count)))
    if frame.canceled():
        return next(o for o in outcomes if o is not None and not o.success)
    results = [o.result if o is not None else None for o in outcomes]
    failed = any(o is not None and not o.success and not skip_of(i) for i, o in enumerate(outcomes))
    # The leaves already ran the failure module: not again at the loop/branchall node
    # (worker_flow.rs@v1.788.0 `has_triggered_error_handler` for parallel modules).
    return _outcome(not failed, results, handled=failed and bool(frame.flow_value.get("failure_module")))


# ---- branches -------------------------------------------------------------------------------
def run_branchall(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any], module: Dict[str, Any],
                  previous: Any, extra: Dict[str, Any], args: Optional[Dict[str, Any]]) -> Result:
    """`branchall` (windmill.md §8.3): every branch is a `<flow>/branchall-<i>` sub-flow with
    the flow's args; result = array in branch order; `parallel` defaults to true; a missing
    `skip_failure` is false (`compute_skip_branchall_failure … unwrap_or(false)`)."""
    value = module["value"]
    branches = value.get("branches") or []
    skips = [bool(b.get("skip_failure", False)) for b in branches]
    parallel = value.get("parallel", True)
    _set(frame, mstatus, branchall={"branch": 0, "len": len(branches)}, flow_jobs=[], flow_jobs_success=[])
    if parallel and frame.same_worker and len(branches) > 1:
        return _failure(module, "BadRequest", SAME_WORKER_ERROR), args

    def job_for(i: int) -> Any:
        return engine.subflow_job(frame, module["id"], branches[i].get("modules") or [], dict(frame.flow_input),
                                  frame.root_for_children(), "%s/branchall-%d" % (frame.flow_path, i))

    if parallel:
        return run_parallel(engine, frame, mstatus, [job_for(i) for i in range(len(branches))],
                            lambda i: skips[i], None), args
    results: List[Any] = []
    outcome = _outcome(True, [])
    for i in range(len(branches)):
        _set(frame, mstatus, branchall={"branch": i, "len": len(branches)})
        job = job_for(i)
        with frame.job.lock:
            mstatus["flow_jobs"].append(job.id)
            mstatus["flow_jobs_success"].append(None)
        outcome = engine.run_subflow(frame, job, frame)
        with frame.job.lock:
            mstatus["flow_jobs_success"][-1] = outcome.success
        if frame.canceled():
            return outcome, args
        results.append(outcome.result)
        if not outcome.success and not skips[i]:
            # Failure { flow_jobs } -> the results so far (worker_flow.rs@v1.788.0).
            return _outcome(False, results, job_id=outcome.job_id, handled=outcome.handled), args
    # A stop in the last branch run stops the enclosing flow (stop_early_override) [source].
    return _outcome(True, results, stopped=outcome.stopped, skipped=outcome.skipped), args


def run_branchone(engine: "Engine", frame: "Frame", index: int, mstatus: Dict[str, Any], module: Dict[str, Any],
                  previous: Any, extra: Dict[str, Any], args: Optional[Dict[str, Any]]) -> Result:
    """`branchone` (windmill.md §8.4): `Boolean(expr)` of each branch in order (with `result`
    = previous result); the first true one runs as a `<flow>/branchone-<i + 1>` sub-flow (`-0`: default) with
    the flow's args, else `default`. A stop inside it stops the enclosing flow."""
    value = module["value"]
    chosen: Optional[int] = None
    try:
        for i, branch in enumerate(value.get("branches") or []):
            if engine.js.truthy(branch.get("expr", "false"), frame.scope(previous, result=previous, **extra)):
                chosen = i
                break
    except JsError as exc:
        return _failure(module, "ExecutionErr", str(exc)), args
    if chosen is None:
        body = value.get("default") or []
        _set(frame, mstatus, branch_chosen={"type": "default"})
    else:
        body = value["branches"][chosen].get("modules") or []
        _set(frame, mstatus, branch_chosen={"type": "branch", "branch": chosen})
    job = engine.subflow_job(frame, module["id"], body, dict(frame.flow_input), frame.root_for_children(),
                             # `branch_idx`: 0 for the default, i + 1 for branch i (worker_flow.rs@v1.788.0).
                             "%s/branchone-%d" % (frame.flow_path, 0 if chosen is None else chosen + 1))
    _set(frame, mstatus, job=job.id)
    return engine.run_subflow(frame, job, frame), args


RUNNERS: Dict[str, Callable[..., Result]] = {
    "rawscript": run_rawscript,
    "script": run_path_script,
    "flow": run_path_flow,
    "identity": run_identity,
    "forloopflow": run_forloop,
    "whileloopflow": run_whileloop,
    "branchall": run_branchall,
    "branchone": run_branchone,
}


def runner_for(module_type: Optional[str]) -> Callable[..., Result]:
    runner = RUNNERS.get(module_type or "")
    if runner is None:
        def unsupported(engine: Any, frame: Any, index: int, mstatus: Any, module: Dict[str, Any], *rest: Any) -> Result:
            return _failure(module, "ExecutionErr", "module type %r is not executed by this emulator" % module_type), None
        return unsupported
    return runner
