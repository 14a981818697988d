"""The flow engine: runs flow jobs with Windmill's semantics.

Main source: `backend/windmill-worker/src/worker_flow.rs` (`push_next_flow_job`,
`update_flow_status_after_job_completion`, `compute_next_flow_transform`) and windmill.md
§4, §7, §8, §9, §11. Each flow or sub-flow (loop iteration, branch, `flow` module) is a job
run by a thread; each script step is a child job run as a subprocess. Module-level rules
(retry, skip_if, stop_after_if, ...) live in `control.py`, module types in `modules.py`.
"""
from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Callable, Dict, List, Optional

from . import control
from .environment import JobIdentity, WorkerEnv, job_environment
from .jobs import Job, iso, new_flow_status, new_id, now
from .jsengine import JsEngine, JsError, scope_for
from .scripts import ProcessHandle, ScriptError, ScriptFailure, ScriptRun, run_script
from .store import Store

# worker_flow.rs log lines of a finished flow job.
LOG_CANCELED = "Flow job canceled"
LOG_STOPPED = "Flow job stopped early because of a stop early predicate returning true"
LOG_SUCCESS = "Flow job completed with success"
LOG_FAILURE = "Flow job completed with error"


@dataclass
class Outcome:
    """What a module or a (sub)flow ended with.

    ``stopped`` = a stop_after_if fired (propagates to enclosing flows like worker_flow.rs
    `stop_early_override`); ``handled`` = a failure module already ran for this failure
    (`skip_error_handler`)."""

    success: bool
    result: Any
    stopped: bool = False
    skipped: bool = False
    job_id: Optional[str] = None
    handled: bool = False


def error_result(name: str, message: str, step_id: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
    """Failed job result `{"error": {message, name, step_id?}}` (windmill.md §11)."""
    error: Dict[str, Any] = {"name": name, "message": message}
    if step_id is not None:
        error["step_id"] = step_id
    error.update(extra)
    return {"error": error}


@dataclass
class Frame:
    """The execution context of one (sub)flow job."""

    job: Job
    flow_input: Dict[str, Any]
    flow_value: Dict[str, Any]
    top: Job
    parent: Optional["Frame"] = None  # for `results` lookups (None for a `flow` sub-flow)
    up: Optional["Frame"] = None  # for cancellation, always the enclosing frame
    results: Dict[str, Any] = field(default_factory=dict)

    @property
    def flow_path(self) -> str:
        return self.job.script_path or ""

    @property
    def same_worker(self) -> bool:
        return bool(self.flow_value.get("same_worker"))

    @property
    def flow_env(self) -> Dict[str, Any]:
        return dict(self.flow_value.get("flow_env") or {})

    def visible_results(self) -> Dict[str, Any]:
        """`results.<id>` walks up from the innermost flow to parent flows
        (windmill-queue `get_result_by_id_from_running_flow`, windmill.md §4)."""
        merged = self.parent.visible_results() if self.parent else {}
        merged.update(self.results)
        return merged

    def canceled(self) -> bool:
        frame: Optional[Frame] = self
        while frame is not None:
            if frame.job.cancel_event.is_set():
                return True
            frame = frame.up
        return False

    def root_for_children(self) -> str:
        """worker_flow.rs: pushed jobs get `flow_job.root_job or flow_job.id` as root_job."""
        return self.job.root_job or self.job.id

    def scope(self, previous_result: Any, **extra: Any) -> Dict[str, Any]:
        return scope_for(self.flow_input, self.visible_results(), previous_result,
                         flow_env=self.flow_env, **extra)


@dataclass
class Settings:
    """Worker-side configuration of the emulated instance."""

    token: str
    workdir: str
    worker_env: WorkerEnv = field(default_factory=WorkerEnv)
    base_url: str = "http://127.0.0.1"
    keep_job_dirs: bool = False
    variables: Callable[[str, str], Optional[str]] = lambda ws, path: None


class Engine:
    """Launches flow jobs on threads and executes them."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.js = JsEngine()
        self._handles: Dict[str, "tuple[ProcessHandle, List[str]]"] = {}
        self._handles_lock = threading.Lock()

    # ---- launching -------------------------------------------------------------
    def launch_flow(self, workspace: str, path: Optional[str], flow_value: Dict[str, Any],
                    args: Dict[str, Any], job_id: Optional[str] = None,
                    scheduled_for: Optional[Any] = None, schedule_path: Optional[str] = None,
                    no_overlap: bool = False) -> Job:
        """Queue a top-level flow job and start it (a `jobs/run/f` call or a schedule tick)."""
        job = Job(id=job_id or new_id(), workspace=workspace, job_kind="flow" if path else "flowpreview",
                  script_path=path, args=dict(args), raw_flow=flow_value, schedule_path=schedule_path,
                  flow_status=new_flow_status(flow_value.get("modules", [])))
        if scheduled_for is not None:
            job.scheduled_for = scheduled_for
        self.store.add_job(job)
        frame = Frame(job=job, flow_input=dict(args), flow_value=flow_value, top=job)
        threading.Thread(target=self._run_top, args=(frame, no_overlap), daemon=True,
                         name="wm-flow-%s" % job.id[:8]).start()
        return job

    def _run_top(self, frame: Frame, no_overlap: bool = False) -> None:
        job = frame.job
        while job.scheduled_for > now():  # scheduled_for / scheduled_in_secs: stays queued
            if job.cancel_event.wait(min(0.2, (job.scheduled_for - now()).total_seconds())):
                break
        try:
            outcome = (self._overlap(frame) if no_overlap else None) or self._skip_expr(frame) or self.run_flow(frame)
        except Exception as exc:  # an engine bug must still end the job, visibly
            outcome = Outcome(False, error_result("InternalErr", "emulator error: %r" % (exc,)))
        self.finish_flow(frame, outcome)
        if frame.same_worker:
            shutil.rmtree(self._shared_dir(frame), ignore_errors=True)

    def _overlap(self, frame: Frame) -> Optional[Outcome]:
        """Schedule `no_flow_overlap`: a run that starts while another run of the same schedule
        is running completes at once, stopped early (worker_flow.rs `push_next_flow_job`)."""
        with self.store.lock:
            others = [j.id for j in self.store.workspaces[frame.job.workspace].jobs.values()
                      if j.schedule_path == frame.job.schedule_path and j.parent_job is None
                      and j.id != frame.job.id and j.running and not j.completed]
        if not others:
            return None
        frame.job.start()
        return Outcome(True, "not allowed to overlap with %s, scheduling next iteration" % ", ".join(others),
                       stopped=True, skipped=True)

    def _skip_expr(self, frame: Frame) -> Optional[Outcome]:
        """FlowValue.skip_expr, evaluated before step 0 with `flow_input` and WM_SCHEDULED_FOR:
        true completes the flow as skipped with result "stopped early" (worker_flow.rs)."""
        expr = frame.flow_value.get("skip_expr")
        if not expr:
            return None
        scope = {"flow_input": frame.flow_input, "WM_SCHEDULED_FOR": iso(frame.job.scheduled_for)}
        try:
            skipped = self.js.truthy(expr, scope)
        except JsError as exc:
            return Outcome(False, error_result("ExecutionErr", str(exc)))
        if not skipped:
            return None
        frame.job.start()
        return Outcome(True, "stopped early", stopped=True, skipped=True)

    def finish_flow(self, frame: Frame, outcome: Outcome) -> None:
        """Complete a (sub)flow job: canceled, stopped early, success or failure."""
        job = frame.job
        if frame.canceled():
            with job.lock:
                job.canceled = True
                job.canceled_by = job.canceled_by or "admin"
            self.log(job, LOG_CANCELED)
            reason = job.canceled_reason or "canceled"
            job.finish(False, error_result("Canceled", "Job canceled: %s by admin" % reason))
            return
        self.log(job, LOG_STOPPED if outcome.stopped else (LOG_SUCCESS if outcome.success else LOG_FAILURE))
        job.finish(outcome.success, outcome.result, skipped=outcome.stopped and outcome.skipped)

    # ---- flows -------------------------------------------------------------------
    def run_flow(self, frame: Frame) -> Outcome:
        """Run modules in order; the result is the last module's result, an empty flow
        returns its args (worker_flow.rs `push_next_flow_job`)."""
        frame.job.start()
        modules = frame.flow_value.get("modules") or []
        # worker_flow.rs: the first module's previous_result is the flow args.
        previous: Any = frame.flow_input
        status = frame.job.flow_status
        for index, module in enumerate(modules):
            if frame.canceled():
                return Outcome(False, error_result("Canceled", "canceled"))
            with frame.job.lock:
                status["step"] = index
            outcome = control.run_module(self, frame, index, status["modules"][index], module, previous)
            if not outcome.success:
                return self._after_failure(frame, outcome, module)
            frame.results[module["id"]] = outcome.result
            previous = outcome.result
            if outcome.stopped:
                return Outcome(True, previous, stopped=True, skipped=outcome.skipped)
            if index + 1 < len(modules):
                self._sleep_before_next(frame, module, previous)
        with frame.job.lock:
            status["step"] = len(modules)
        return Outcome(True, previous)

    def _sleep_before_next(self, frame: Frame, module: Dict[str, Any], previous: Any) -> None:
        """A module's `sleep` delays the next module (worker_flow.rs: the next job's
        scheduled_for); seconds may be fractional."""
        if module.get("sleep") is None:
            return
        try:
            seconds = self.seconds_of(frame, module["sleep"], previous, result=previous) or 0
        except (JsError, TypeError, ValueError):
            seconds = 0
        control.interruptible_sleep(frame, seconds)

    def _after_failure(self, frame: Frame, failed: Outcome, module: Dict[str, Any]) -> Outcome:
        """A failed flow runs its `failure_module` (inherited by loop/branch sub-flows) once,
        in the innermost flow; its result becomes the flow result; the flow stays failed
        unless that result has `recover: true` (worker_flow.rs `has_failure_module`,
        `result_has_recover_true`, `skip_error_handler`)."""
        failure_module = frame.flow_value.get("failure_module")
        if failed.handled or not failure_module or frame.canceled():
            return failed
        status = frame.job.flow_status
        error = failed.result.get("error") if isinstance(failed.result, dict) else failed.result
        with frame.job.lock:
            status["step"] = len(status["modules"])
            status["failure_module"]["parent_module"] = module.get("id")
        outcome = control.run_module(self, frame, len(status["modules"]), status["failure_module"],
                                     failure_module, failed.result, extra_scope={"error": error})
        recovered = outcome.success and isinstance(outcome.result, dict) and outcome.result.get("recover") is True
        result = outcome.result if outcome.success else failed.result
        return Outcome(recovered, result, handled=True, job_id=failed.job_id)

    # ---- sub-flows ----------------------------------------------------------------------
    def subflow_job(self, frame: Frame, module_id: str, modules: List[Dict[str, Any]], args: Dict[str, Any],
                    root_job: Optional[str], path: str, flow_value: Optional[Dict[str, Any]] = None) -> Job:
        """A sub-flow job (loop iteration, branch, `flow` module); loop and branch sub-flows
        inherit the flow's failure_module and same_worker (compute_next_flow_transform)."""
        if flow_value is None:
            flow_value = {"modules": modules}
            for key in ("failure_module", "same_worker", "flow_env"):
                if frame.flow_value.get(key) is not None:
                    flow_value[key] = frame.flow_value[key]
        return self.child_job(frame, "flow", module_id, args, root_job, raw_flow=flow_value, script_path=path,
                              flow_status=new_flow_status(flow_value.get("modules") or []))

    def run_subflow(self, frame: Frame, job: Job, results_parent: Optional[Frame]) -> Outcome:
        """Run a sub-flow job to completion and report its outcome to the parent."""
        sub = Frame(job=job, flow_input=dict(job.args), flow_value=job.raw_flow or {}, top=frame.top,
                    parent=results_parent, up=frame)
        try:
            outcome = self.run_flow(sub)
        except Exception as exc:  # an engine bug must still end the job, visibly
            outcome = Outcome(False, error_result("InternalErr", "emulator error: %r" % (exc,)))
        self.finish_flow(sub, outcome)
        if sub.canceled():
            outcome = Outcome(False, job.result)
        outcome.job_id = job.id
        return outcome

    # ---- expressions ----------------------------------------------------------------------
    def evaluate_transform(self, frame: Frame, transform: Any, previous: Any, **extra: Any) -> Any:
        """A static or javascript InputTransform; a bare value is a static one
        (flows.rs deserializes a bare integer for timeout/parallelism)."""
        if not isinstance(transform, dict) or "type" not in transform:
            return transform
        if transform["type"] == "static":
            return self._resolve_static(frame, transform.get("value"))
        if transform["type"] == "javascript":
            return self.js.evaluate(transform.get("expr", ""), frame.scope(previous, **extra))
        raise JsError("unsupported input transform type %r" % transform["type"])

    def _resolve_static(self, frame: Frame, value: Any) -> Any:
        """A static `"$var:path"` resolves to the variable's value (windmill.md §4)."""
        if isinstance(value, str) and value.startswith("$var:"):
            resolved = self.settings.variables(frame.job.workspace, value[len("$var:"):])
            if resolved is None:
                raise JsError("variable %s not found" % value[len("$var:"):])
            return resolved
        return value

    def evaluate_args(self, frame: Frame, transforms: Dict[str, Any], previous: Any,
                      **extra: Any) -> Dict[str, Any]:
        return {name: self.evaluate_transform(frame, t, previous, **extra)
                for name, t in (transforms or {}).items()}

    def seconds_of(self, frame: Frame, transform: Any, previous: Any, **extra: Any) -> Optional[float]:
        value = self.evaluate_transform(frame, transform, previous, **extra)
        return None if value is None else float(value)

    # ---- jobs ------------------------------------------------------------------------------
    def child_job(self, frame: Frame, kind: str, module_id: str, args: Dict[str, Any],
                  root_job: Optional[str], **fields: Any) -> Job:
        job = Job(id=new_id(), workspace=frame.job.workspace, job_kind=kind,
                  parent_job=frame.job.id, root_job=root_job, flow_step_id=module_id,
                  args=args, schedule_path=frame.top.schedule_path, **fields)
        self.store.add_job(job)
        return job

    def run_script_job(self, frame: Frame, job: Job, timeout: Optional[float]) -> Outcome:
        """Run one rawscript job in its own directory with the Windmill job environment."""
        job.start()
        job_dir = os.path.join(self.settings.workdir, job.id)
        os.makedirs(job_dir, exist_ok=True)
        if frame.same_worker:
            # same_worker: steps share `./shared` (windmill.md §9).
            os.symlink(self._shared_dir(frame), os.path.join(job_dir, "shared"))
        handle = ProcessHandle()
        self._register(job, frame, handle)
        run = ScriptRun(language=job.language or "", content=job.raw_code or "", args=job.args,
                        env=self._environment(frame, job), job_dir=job_dir, timeout=timeout)
        try:
            result = run_script(run, handle, lambda text, final: self._set_logs(job, text))
            outcome = Outcome(True, result, job_id=job.id)
        except ScriptFailure as failure:
            if isinstance(failure.error, ScriptError):  # the script's own result.json, verbatim
                outcome = Outcome(False, {"error": failure.error["value"]}, job_id=job.id)
            else:
                err = dict(failure.error)
                err["step_id"] = job.flow_step_id
                outcome = Outcome(False, {"error": err}, job_id=job.id)
        finally:
            self._unregister(job)
            if not self.settings.keep_job_dirs:
                shutil.rmtree(job_dir, ignore_errors=True)
                _remove(job_dir + ".log")
        if frame.canceled():
            with job.lock:
                job.canceled = True
                job.canceled_by = "admin"
        job.finish(outcome.success, outcome.result)
        return outcome

    def log(self, job: Job, line: str) -> None:
        """Engine lines in a flow job's own log (its steps keep their output)."""
        with job.lock:
            job.logs += line + "\n"

    def _set_logs(self, job: Job, text: str) -> None:
        with job.lock:
            job.logs = text

    def _shared_dir(self, frame: Frame) -> str:
        path = os.path.join(self.settings.workdir, "shared-%s" % frame.top.id)
        os.makedirs(path, exist_ok=True)
        return path

    def _environment(self, frame: Frame, job: Job) -> Dict[str, str]:
        """Reserved variables of a step (variables.rs): WM_FLOW_JOB_ID = the parent flow job,
        WM_ROOT_FLOW_JOB_ID = the job's root_job, WM_FLOW_PATH = the parent's path."""
        ident = JobIdentity(
            workspace=job.workspace, token=self.settings.token, base_url=self.settings.base_url,
            job_id=job.id, job_path=job.script_path, flow_job_id=frame.job.id,
            root_flow_job_id=job.root_job or frame.job.id, root_job_id=frame.top.id,
            flow_path=frame.flow_path, flow_step_id=job.flow_step_id,
            schedule_path=frame.top.schedule_path,
            scheduled_for=_rfc3339_seconds(job.scheduled_for))
        return job_environment(self.settings.worker_env, ident)

    # ---- cancellation ----------------------------------------------------------------------
    def _register(self, job: Job, frame: Frame, handle: ProcessHandle) -> None:
        chain = [job.id]
        walk: Optional[Frame] = frame
        while walk is not None:
            chain.append(walk.job.id)
            walk = walk.up
        with self._handles_lock:
            self._handles[job.id] = (handle, chain)

    def _unregister(self, job: Job) -> None:
        with self._handles_lock:
            self._handles.pop(job.id, None)

    def cancel(self, job: Job, reason: Optional[str]) -> None:
        """Cancel a job and everything under it: running processes are killed."""
        with job.lock:
            job.canceled_reason = reason or job.canceled_reason
            job.canceled_by = "admin"
        job.cancel_event.set()
        for child in self._descendants(job):
            child.cancel_event.set()
        with self._handles_lock:
            targets = [h for h, chain in self._handles.values() if job.id in chain]
        for handle in targets:
            handle.kill("Job canceled: %s" % (reason or "canceled"))

    def shutdown(self) -> None:
        """Server stop: cancel every unfinished top-level job so no process outlives us."""
        with self.store.lock:
            running = [j for ws in self.store.workspaces.values() for j in ws.jobs.values()
                       if j.parent_job is None and not j.completed]
        for job in running:
            self.cancel(job, "emulator shutting down")
        self.js.close()

    def _descendants(self, job: Job) -> List[Job]:
        found: List[Job] = []
        queue = [job]
        while queue:
            current = queue.pop()
            for child in self.store.children(current):
                found.append(child)
                queue.append(child)
        return found

    def pool(self, workers: int) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="wm-iter")


def _rfc3339_seconds(value: Any) -> str:
    """WM_SCHEDULED_FOR format: RFC 3339, whole seconds, `Z` (variables.rs)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
