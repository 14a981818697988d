"""Schedules (`/w/{ws}/schedules/*`, windmill.md §13) and variables (`/w/{ws}/variables/*`)."""
from __future__ import annotations

from typing import Any, Dict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .emulator import Emulator
from .jobs import EMAIL, USERNAME, iso, now
from .rest import HttpError, bad_request, emulator_of, not_found, read_json, text, workspace_of
from .schedules import cron_problem, preview
from .validation import check_path, validate_schedule_fields


# ---- schedules ---------------------------------------------------------------------------
SCHEDULE_FIELDS = ("schedule", "timezone", "args", "enabled", "summary", "description", "no_flow_overlap",
                   "cron_version", "on_failure", "on_failure_times", "on_failure_exact", "on_failure_extra_args",
                   "on_recovery", "on_recovery_times", "on_recovery_extra_args", "on_success",
                   "on_success_extra_args", "retry", "tag", "paused_until", "labels", "ws_error_handler_muted")


def _check_schedule(emu: Emulator, ws: str, sched: Dict[str, Any]) -> None:
    problem = cron_problem(sched.get("schedule"), sched.get("timezone"))
    if problem:
        raise bad_request(problem)
    if not sched.get("is_flow"):
        raise bad_request("this emulator schedules flows only (is_flow must be true)")
    if emu.store.flow(ws, sched.get("script_path", "")) is None:
        raise not_found("flow %s" % sched.get("script_path"))
    for handler in ("on_failure", "on_success", "on_recovery"):
        value = sched.get(handler)
        # get_payload_tag_from_prefixed_path: handler paths start with script/ or flow/ (§13).
        if value and not (value.startswith("script/") or value.startswith("flow/")):
            raise bad_request("%s must start with script/ or flow/, got %s" % (handler, value))
    if sched.get("args") is not None and not isinstance(sched["args"], dict):
        raise bad_request("args must be an object")


def _community_edition(body: Dict[str, Any]) -> None:
    """Community Edition refusals (windmill-api-schedule/src/lib.rs@v1.788.0 `create_schedule`,
    `#[cfg(not(feature = "enterprise"))]`)."""
    for handler in ("on_recovery", "on_success"):
        if body.get(handler) is not None:
            raise HttpError(400, "%s is only available in enterprise version" % handler)
    if (body.get("on_failure_times") or 0) > 1:
        raise HttpError(400, "on_failure with a number of times > 1 is only available in enterprise version")


async def schedule_create(request: Request) -> Response:
    """POST /schedules/create (`NewSchedule`) -> 200 text path (`-> Result<String>`,
    windmill-api-schedule/src/lib.rs@v1.788.0 `create_schedule`)."""
    ws = workspace_of(request)
    emu = emulator_of(request)
    body = await read_json(request, {}) or {}
    problems = validate_schedule_fields(body, creating=True)
    if problems:
        raise bad_request("; ".join(problems))
    problem = check_path(body.get("path"))
    if problem:
        raise bad_request(problem)
    _community_edition(body)
    sched = {k: body[k] for k in SCHEDULE_FIELDS + ("path", "script_path", "is_flow") if k in body}
    sched.setdefault("enabled", True)
    # A schedule created without cron_version is stored as v2 (windmill.md §13).
    sched["cron_version"] = sched.get("cron_version") or "v2"
    _check_schedule(emu, ws, sched)
    with emu.store.lock:
        schedules = emu.store.workspaces[ws].schedules
        if body["path"] in schedules:
            raise bad_request("a schedule already exists at path %s" % body["path"])
        schedules[body["path"]] = _stamp(sched)
    emu.scheduler.reset(ws, body["path"])
    return text(body["path"])


def _stamp(sched: Dict[str, Any]) -> Dict[str, Any]:
    sched.update(edited_by=USERNAME, edited_at=iso(now()), extra_perms={}, email=EMAIL,
                 permissioned_as="u/%s" % USERNAME)
    return sched


async def schedule_update(request: Request) -> Response:
    """POST /schedules/update/{path} (`EditSchedule`)."""
    ws = workspace_of(request)
    emu = emulator_of(request)
    path = request.path_params["path"]
    body = await read_json(request, {}) or {}
    problems = validate_schedule_fields(body, creating=False)
    if problems:
        raise bad_request("; ".join(problems))
    with emu.store.lock:
        current = emu.store.workspaces[ws].schedules.get(path)
        if current is None:
            raise not_found("schedule %s" % path)
        # `UPDATE schedule SET` every EditSchedule column: an omitted field is cleared; only
        # cron_version and labels are COALESCEd (windmill-api-schedule/src/lib.rs@v1.788.0 `edit_schedule`).
        updated = dict(current)
        updated.update({k: body.get(k) for k in SCHEDULE_FIELDS if k not in ("enabled", "cron_version", "labels")})
        updated.update({k: body[k] for k in ("cron_version", "labels") if body.get(k) is not None})
        updated = {k: v for k, v in updated.items() if v is not None}
    _check_schedule(emu, ws, updated)
    with emu.store.lock:
        emu.store.workspaces[ws].schedules[path] = _stamp(updated)
    emu.scheduler.reset(ws, path)
    return text(path)


def _records(request: Request, kind: str) -> Dict[str, Dict[str, Any]]:
    """The request workspace's schedules or variables, by path."""
    return getattr(emulator_of(request).store.workspaces[workspace_of(request)], kind + "s")


def _stored(request: Request, kind: str) -> Dict[str, Any]:
    """The schedule or variable at the request's path, else 404."""
    path = request.path_params["path"]
    record = _records(request, kind).get(path)
    if record is None:
        raise not_found("%s %s" % (kind, path))
    return record


def _listed(request: Request, kind: str) -> Response:
    """Copies of the records whose path starts with ``path_start``."""
    start = request.query_params.get("path_start", "")
    with emulator_of(request).store.lock:
        items = [dict(r) for r in _records(request, kind).values() if r["path"].startswith(start)]
    return JSONResponse(items)


def _delete(request: Request, kind: str) -> str:
    """Remove the record at the request's path (404 if absent); returns the path."""
    path = request.path_params["path"]
    with emulator_of(request).store.lock:
        if _records(request, kind).pop(path, None) is None:
            raise not_found("%s %s" % (kind, path))
    return path


def _schedule(request: Request) -> Dict[str, Any]:
    return _stored(request, "schedule")


async def schedule_get(request: Request) -> Response:
    return JSONResponse(dict(_schedule(request), is_draft=False))  # + UserDraftOverlay


async def schedule_exists(request: Request) -> Response:
    return JSONResponse(request.path_params["path"] in _records(request, "schedule"))


async def schedule_delete(request: Request) -> Response:
    path = _delete(request, "schedule")
    emulator_of(request).scheduler.reset(workspace_of(request), path)
    return text("Schedule %s deleted" % path)


async def schedule_setenabled(request: Request) -> Response:
    """POST /schedules/setenabled/{path} `{"enabled": bool}`."""
    sched = _schedule(request)
    body = await read_json(request, {}) or {}
    if not isinstance(body.get("enabled"), bool):
        raise bad_request("`enabled` (boolean) is required")
    with emulator_of(request).store.lock:
        sched["enabled"] = body["enabled"]
    emulator_of(request).scheduler.reset(request.path_params["workspace"], request.path_params["path"])
    return text("Schedule %s %s" % (sched["path"], "enabled" if body["enabled"] else "disabled"))


async def schedule_list(request: Request) -> Response:
    return _listed(request, "schedule")


async def schedule_preview(request: Request) -> Response:
    body = await read_json(request, {}) or {}
    problem = cron_problem(body.get("schedule"), body.get("timezone"))
    if problem:
        raise bad_request(problem)
    return JSONResponse([iso(t) for t in preview(body["schedule"], body["timezone"])])




# ---- variables -----------------------------------------------------------------------------
async def variable_create(request: Request) -> Response:
    """POST /variables/create (`CreateVariable`: path, value, is_secret, description) -> 201 text."""
    ws = workspace_of(request)
    emu = emulator_of(request)
    body = await read_json(request, {}) or {}
    missing = [k for k in ("path", "value", "is_secret", "description") if k not in body]
    if missing:
        raise bad_request("missing field(s): %s" % ", ".join(missing))
    problem = check_path(body.get("path"))
    if problem:
        raise bad_request(problem)
    if not isinstance(body["value"], str):
        raise bad_request("variable value must be a string")
    with emu.store.lock:
        variables = emu.store.workspaces[ws].variables
        if body["path"] in variables:
            raise bad_request("a variable already exists at path %s" % body["path"])
        variables[body["path"]] = _variable_record(ws, body)
    return text(body["path"], 201)


def _variable_record(ws: str, body: Dict[str, Any]) -> Dict[str, Any]:
    return {"workspace_id": ws, "path": body["path"], "value": body.get("value", ""),
            "is_secret": bool(body.get("is_secret", False)), "description": body.get("description", ""),
            "extra_perms": {}, "is_oauth": False, "is_expired": False, "labels": body.get("labels") or [],
            "edited_at": iso(now()), "edited_by": USERNAME}


async def variable_update(request: Request) -> Response:
    """POST /variables/update/{path} (`EditVariable`, all fields optional)."""
    ws = workspace_of(request)
    emu = emulator_of(request)
    path = request.path_params["path"]
    body = await read_json(request, {}) or {}
    if "value" in body and not isinstance(body["value"], str):
        raise bad_request("variable value must be a string")
    with emu.store.lock:
        variables = emu.store.workspaces[ws].variables
        if path not in variables:
            raise not_found("variable %s" % path)
        record = dict(variables.pop(path))
        record.update({k: body[k] for k in ("value", "is_secret", "description", "labels") if k in body})
        record["path"] = body.get("path") or path
        record["edited_at"] = iso(now())
        variables[record["path"]] = record
    return text(record["path"])


def _variable(request: Request) -> Dict[str, Any]:
    return _stored(request, "variable")


async def variable_get(request: Request) -> Response:
    return JSONResponse(dict(_variable(request), is_draft=False))  # + UserDraftOverlay


async def variable_get_value(request: Request) -> Response:
    return JSONResponse(_variable(request)["value"])


async def variable_exists(request: Request) -> Response:
    return JSONResponse(request.path_params["path"] in _records(request, "variable"))


async def variable_delete(request: Request) -> Response:
    return text("variable %s deleted" % _delete(request, "variable"))


async def variable_list(request: Request) -> Response:
    return _listed(request, "variable")
