"""Runs and jobs (`jobs/run/f`, `run_wait_result`, `jobs_u/*`, `jobs/list`; windmill.md §11-§12).

Many Windmill endpoints answer `text/plain` (job ids); those stay text here."""
from __future__ import annotations

import datetime as dt
from typing import Any, List, Optional

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .api_flows import validate_flow_body
from .jobs import now
from .rest import bad_request, emulator_of, not_found, query_bool, read_json, read_json_extractor, text, workspace_of


# ---- running -----------------------------------------------------------------------------
def _scheduled_for(request: Request) -> Optional[dt.datetime]:
    """`scheduled_for` (date-time) or `scheduled_in_secs` query params (runFlowByPath)."""
    when = request.query_params.get("scheduled_for")
    secs = request.query_params.get("scheduled_in_secs")
    try:
        if when:
            parsed = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        if secs:
            return now() + dt.timedelta(seconds=int(secs))
    except ValueError as exc:
        raise bad_request("invalid schedule time: %s" % exc)
    return None


async def _launch(request: Request) -> Any:
    ws = workspace_of(request)
    path = request.path_params["path"]
    emu = emulator_of(request)
    flow = emu.store.flow(ws, path)
    if flow is None:
        raise not_found("flow not found at path %s" % path)
    args = await read_json(request, {})
    if not isinstance(args, dict):
        raise bad_request("the body must be a JSON object of flow args")
    job_id = request.query_params.get("job_id")
    if job_id and emu.store.job(ws, job_id) is not None:
        # A pre-chosen job id must be new (windmill.md §12: duplicate -> 400).
        raise bad_request("job id %s already exists" % job_id)
    return emu.engine.launch_flow(ws, path, flow["value"], args, job_id=job_id or None,
                                  scheduled_for=_scheduled_for(request))


async def run_flow(request: Request) -> Response:
    """POST /jobs/run/f/{path} -> 201 text job uuid."""
    job = await _launch(request)
    return text(job.id, 201)


async def run_flow_wait(request: Request) -> Response:
    """POST /jobs/run_wait_result/f/{path}: blocks, then the result JSON; a failed run answers
    422 with its result (windmill-api-jobs/src/execution.rs@v1.788.0 `result_to_response`)."""
    job = await _launch(request)
    timeout = emulator_of(request).wait_result_timeout
    finished = await anyio.to_thread.run_sync(job.done_event.wait, timeout)
    if not finished:
        return text("timeout after %ss waiting for job %s" % (timeout, job.id), 500)
    return JSONResponse(job.result, status_code=200 if job.success else 422)


async def run_preview_flow(request: Request) -> Response:
    """POST /jobs/run/preview_flow: `{value, args, path?}` runs an unsaved flow."""
    ws = workspace_of(request)
    body = await read_json(request, {}) or {}
    validate_flow_body({"summary": "", "value": body.get("value")}, creating=False)
    job = emulator_of(request).engine.launch_flow(ws, body.get("path"), body["value"], body.get("args") or {})
    return text(job.id, 201)


# ---- jobs ----------------------------------------------------------------------------------
def _job(request: Request, key: str = "id") -> Any:
    ws = workspace_of(request)
    job = emulator_of(request).store.job(ws, request.path_params[key])
    if job is None:
        raise not_found("job %s" % request.path_params[key])
    return job


async def job_get(request: Request) -> Response:
    job = _job(request)
    return JSONResponse(job.to_api(with_logs=not query_bool(request, "no_logs")))


async def job_completed_get(request: Request) -> Response:
    job = _job(request)
    if not job.completed:
        raise not_found("completed job %s" % job.id)
    return JSONResponse(job.to_api())


async def job_result(request: Request) -> Response:
    job = _job(request)
    if not job.completed:
        raise not_found("completed job %s" % job.id)
    return JSONResponse(job.result)


async def job_result_maybe(request: Request) -> Response:
    return JSONResponse(_job(request).result_maybe(bool(query_bool(request, "get_started"))))


async def job_update(request: Request) -> Response:
    """GET /jobs_u/getupdate/{id}: incremental logs from `log_offset`."""
    job = _job(request)
    offset = int(request.query_params.get("log_offset") or 0)
    with job.lock:
        logs = job.logs
        body = {"running": job.running, "completed": job.completed, "new_logs": logs[offset:],
                "log_offset": len(logs), "flow_status": job.flow_status}
    return JSONResponse(body)


async def job_logs(request: Request) -> Response:
    return text(_job(request).logs)


async def flow_all_logs(request: Request) -> Response:
    """Every step's logs of a flow, in creation order."""
    job = _job(request)
    emu = emulator_of(request)
    parts: List[str] = []
    queue = [job]
    while queue:
        current = queue.pop(0)
        if current.logs:
            parts.append("[%s] %s\n%s" % (current.flow_step_id or current.id, current.id, current.logs))
        queue[0:0] = emu.store.children(current)
    return text("\n".join(parts))


async def job_cancel(request: Request) -> Response:
    """POST /jobs_u/queue/cancel/{id} `{"reason"}` -> 200 text; the body is a required
    `Json<CancelJob>` (windmill-api/src/jobs.rs@v1.788.0 `cancel_job_api`)."""
    job = _job(request)
    body = await read_json_extractor(request)
    if job.completed:
        raise bad_request("job %s is already completed" % job.id)
    emulator_of(request).engine.cancel(job, body.get("reason") if isinstance(body, dict) else None)
    return text("Job %s canceled" % job.id)


async def result_by_id(request: Request) -> Response:
    """GET /jobs/result_by_id/{flow_job_id}/{node_id}: a step's result, searched in sub-flows."""
    job = _job(request, "flow_job_id")
    node = request.path_params["node_id"]
    emu = emulator_of(request)
    queue = [job]
    found = None
    while queue:
        current = queue.pop(0)
        for child in emu.store.children(current):
            if child.flow_step_id == node and child.completed:
                found = child
            queue.append(child)
    if found is None:
        raise not_found("result for node %s in flow %s" % (node, job.id))
    return JSONResponse(found.result)


async def restart_flow(request: Request) -> Response:
    # Restarting a flow at a step is Enterprise-only (windmill.md §12).
    raise bad_request("Restarting a flow is a feature only available in enterprise version")


def _matches(job: Any, request: Request, completed: Optional[bool]) -> bool:
    q = request.query_params
    if completed is not None and job.completed != completed:
        return False
    if q.get("script_path_exact") and job.script_path != q["script_path_exact"]:
        return False
    if q.get("script_path_start") and not (job.script_path or "").startswith(q["script_path_start"]):
        return False
    if q.get("job_kinds") and job.job_kind not in q["job_kinds"].split(","):
        return False
    if q.get("schedule_path") and job.schedule_path != q["schedule_path"]:
        return False
    if q.get("parent_job") and job.parent_job != q["parent_job"]:
        return False
    for name, value in (("running", job.running and not job.completed), ("success", job.success if job.completed else None),
                        ("has_null_parent", job.parent_job is None), ("is_flow_step", job.is_flow_step)):
        wanted = query_bool(request, name)
        if wanted is not None and value != wanted:
            return False
    wanted = query_bool(request, "is_skipped")
    if wanted is not None and job.is_skipped != wanted:
        return False
    if q.get("status") and _status(job) != q["status"]:
        return False
    return _in_time_window(job, request)


def _status(job: Any) -> Optional[str]:
    """`status` filter values: success, failure, canceled, skipped (jobs/list spec 1.743)."""
    if not job.completed:
        return None
    if job.canceled:
        return "canceled"
    if job.is_skipped:
        return "skipped"
    return "success" if job.success else "failure"


def _in_time_window(job: Any, request: Request) -> bool:
    """created_/started_/completed_ before/after bounds (exclusive)."""
    for prefix, value in (("created", job.created_at), ("started", job.started_at), ("completed", job.completed_at)):
        for suffix, newer in (("after", True), ("before", False)):
            raw = request.query_params.get("%s_%s" % (prefix, suffix))
            if not raw:
                continue
            if value is None:
                return False
            bound = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            bound = bound if bound.tzinfo else bound.replace(tzinfo=dt.timezone.utc)
            if (value <= bound) if newer else (value >= bound):
                return False
    return True


def _list_jobs(request: Request, completed: Optional[bool]) -> Response:
    ws = workspace_of(request)
    with emulator_of(request).store.lock:
        jobs = list(emulator_of(request).store.workspaces[ws].jobs.values())
    jobs = [j for j in jobs if _matches(j, request, completed)]
    jobs.sort(key=lambda j: j.created_at, reverse=query_bool(request, "order_desc") is not False)
    per_page = int(request.query_params.get("per_page") or 1000)
    page = max(1, int(request.query_params.get("page") or 1))
    jobs = jobs[(page - 1) * per_page: page * per_page]
    return JSONResponse([j.to_api(with_logs=False) for j in jobs])


async def jobs_list(request: Request) -> Response:
    return _list_jobs(request, None)


async def jobs_completed_list(request: Request) -> Response:
    return _list_jobs(request, True)


async def jobs_queue_list(request: Request) -> Response:
    return _list_jobs(request, False)
