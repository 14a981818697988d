"""The run page at Windmill's UI path (``/run/{id}?workspace=W``): every module job of the
flow, loop iterations and branches nested under their module; rendered by
``emulators/pages.py``."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from starlette.requests import Request
from starlette.responses import Response

from ..pages import Row, RunPage, render, seconds_text
from .rest import emulator_of, not_found

STATES = {"InProgress": "RUNNING", "Success": "SUCCESS", "Failure": "FAILED",
          "WaitingForPriorSteps": "WAITING", "WaitingForExecutor": "QUEUED", "WaitingForEvents": "WAITING"}


def page(request: Request) -> Response:
    store = emulator_of(request).store
    workspace = request.query_params.get("workspace") or ""
    job = store.job(workspace, request.path_params["id"])
    if job is None:
        raise not_found("job %s in workspace %r" % (request.path_params["id"], workspace))
    data = job.to_api(with_logs=False)
    return render(RunPage(title="Run %s" % job.id, subtitle="%s (Windmill emulator, workspace %s)"
                          % (job.script_path or "preview", workspace), state=_job_state(data),
                          running=data["type"] != "CompletedJob", rows=_rows(store, workspace, data, 0)))


def _job_state(data: Dict[str, Any]) -> str:
    if data["type"] != "CompletedJob":
        return "RUNNING" if data.get("running") else "QUEUED"
    return "CANCELED" if data.get("canceled") else ("SUCCESS" if data.get("success") else "FAILED")


def _rows(store, workspace: str, flow_job: Dict[str, Any], depth: int) -> List[Row]:
    out: List[Row] = []
    for module in (flow_job.get("flow_status") or {}).get("modules") or []:
        job = _get(store, workspace, module.get("job"))
        out.append(_row(module, job, depth))
        for index, sub_id in enumerate(module.get("flow_jobs") or []):
            sub = _get(store, workspace, sub_id)
            if sub is None:
                continue
            if sub.get("job_kind") == "flow":
                out.append(Row(name="%s #%d" % (module.get("id", ""), index), state=_job_state(sub), depth=depth + 1,
                               duration=_duration(sub)))
                out.extend(_rows(store, workspace, sub, depth + 2))
            else:
                out.append(_row({"id": "%s #%d" % (module.get("id", ""), index)}, sub, depth + 1))
    return out


def _get(store, workspace: str, job_id: Optional[str]) -> Optional[Dict[str, Any]]:
    job = store.job(workspace, job_id) if job_id else None
    return job.to_api() if job is not None else None


def _row(module: Dict[str, Any], job: Optional[Dict[str, Any]], depth: int) -> Row:
    state = STATES.get(module.get("type", ""), module.get("type", "")) if "type" in module else (
        _job_state(job) if job else "")
    result = (job or {}).get("result")
    pathspec = result.get("pathspec", "") if isinstance(result, dict) else ""
    logs = ((job or {}).get("logs") or "").splitlines()
    return Row(name=module.get("id", ""), state=state, depth=depth, attempts=len(module.get("failed_retries") or ()) + 1,
               duration=_duration(job) if job else "", pathspec=str(pathspec), logs=logs)


def _duration(job: Dict[str, Any]) -> str:
    return seconds_text(job["duration_ms"] / 1000.0) if job.get("duration_ms") is not None else ""
