"""Folders and flows CRUD (`/w/{ws}/folders/*`, `/w/{ws}/flows/*`, spec 1.743, windmill.md §12)."""
from __future__ import annotations

from typing import Any, Dict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .jobs import USERNAME, iso, now
from .rest import bad_request, emulator_of, not_found, read_json, text, workspace_of
from .rest import HttpError
from .serde_model import SerdeError, check_flow_body, materialize_defaults
from .validation import check_path, emulator_limits


# ---- folders -----------------------------------------------------------------------------
async def folder_create(request: Request) -> Response:
    ws = workspace_of(request)
    body = await read_json(request, {}) or {}
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("folder name is required")
    with emulator_of(request).store.lock:
        folders = emulator_of(request).store.workspaces[ws].folders
        if name in folders:
            raise bad_request("folder %s already exists" % name)
        folders[name] = {"workspace_id": ws, "name": name, "owners": ["u/admin"], "extra_perms": {},
                         "display_name": name}
    return text("Created folder %s" % name, 200)


async def folder_exists(request: Request) -> Response:
    ws = workspace_of(request)
    return JSONResponse(request.path_params["name"] in emulator_of(request).store.workspaces[ws].folders)


async def folder_get(request: Request) -> Response:
    ws = workspace_of(request)
    folder = emulator_of(request).store.workspaces[ws].folders.get(request.path_params["name"])
    if folder is None:
        raise not_found("folder %s" % request.path_params["name"])
    return JSONResponse(folder)


# ---- flows -------------------------------------------------------------------------------
FLOW_EXTRA_FIELDS = ("tag", "ws_error_handler_muted", "priority", "dedicated_worker", "timeout",
                     "visible_to_runner_only", "on_behalf_of_email", "labels")


def _flow_record(ws: str, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
    """The stored `Flow` (OpenFlow + FlowMetadata)."""
    record = {"summary": body.get("summary", ""), "description": body.get("description", ""),
              "value": materialize_defaults(body["value"]), "schema": body.get("schema"), "path": path, "workspace_id": ws,
              "edited_by": USERNAME, "edited_at": iso(now()), "archived": False, "extra_perms": {},
              "starred": False, "draft_only": False, "labels": body.get("labels") or []}
    for name in FLOW_EXTRA_FIELDS:
        if name in body and name != "labels":
            record[name] = body[name]
    return {k: v for k, v in record.items() if v is not None}


async def flow_create(request: Request) -> Response:
    """POST /flows/create: `OpenFlowWPath`, `path` required -> 201 text (spec 1.743)."""
    ws = workspace_of(request)
    body = await read_json(request)
    validate_flow_body(body, creating=True)
    path = body.get("path")
    problem = check_path(path)
    if problem:
        raise bad_request(problem)
    emu = emulator_of(request)
    with emu.store.lock:
        flows = emu.store.workspaces[ws].flows
        if path in flows:
            raise bad_request("a flow already exists at path %s" % path)
        flows[path] = _flow_record(ws, path, body)
    return text(path, 201)


async def flow_update(request: Request) -> Response:
    """POST /flows/update/{path}: a different `path` in the body renames (windmill.md §12)."""
    ws = workspace_of(request)
    old = request.path_params["path"]
    body = await read_json(request)
    validate_flow_body(body, creating=False)
    new = body.get("path") or old
    problem = check_path(new)
    if problem:
        raise bad_request(problem)
    emu = emulator_of(request)
    with emu.store.lock:
        flows = emu.store.workspaces[ws].flows
        if old not in flows:
            raise not_found("flow %s" % old)
        if new != old and new in flows:
            raise bad_request("a flow already exists at path %s" % new)
        del flows[old]
        flows[new] = _flow_record(ws, new, body)
    return text(new)


def validate_flow_body(body: Any, creating: bool) -> None:
    """What the server refuses (422, its serde model), then what this emulator cannot run (400)."""
    try:
        check_flow_body(body, creating)
    except SerdeError as exc:
        raise HttpError(422, str(exc))
    problems = emulator_limits(body["value"])
    if problems:
        raise bad_request("not executed by this emulator: %s" % "; ".join(problems))


async def flow_exists(request: Request) -> Response:
    ws = workspace_of(request)
    return JSONResponse(emulator_of(request).store.flow(ws, request.path_params["path"]) is not None)


async def flow_get(request: Request) -> Response:
    ws = workspace_of(request)
    flow = emulator_of(request).store.flow(ws, request.path_params["path"])
    if flow is None:
        raise not_found("flow %s" % request.path_params["path"])
    return JSONResponse(dict(flow, is_draft=False))  # + UserDraftOverlay (getFlowByPath)


async def flow_delete(request: Request) -> Response:
    ws = workspace_of(request)
    path = request.path_params["path"]
    emu = emulator_of(request)
    with emu.store.lock:
        if emu.store.workspaces[ws].flows.pop(path, None) is None:
            raise not_found("flow %s" % path)
    return text("Flow %s deleted" % path)


async def flow_archive(request: Request) -> Response:
    ws = workspace_of(request)
    body = await read_json(request, {}) or {}
    flow = emulator_of(request).store.flow(ws, request.path_params["path"])
    if flow is None:
        raise not_found("flow %s" % request.path_params["path"])
    flow["archived"] = bool(body.get("archived", True))
    return text("Flow %s archived" % request.path_params["path"])


async def flow_list(request: Request) -> Response:
    ws = workspace_of(request)
    start = request.query_params.get("path_start", "")
    exact = request.query_params.get("path_exact")
    with emulator_of(request).store.lock:
        flows = list(emulator_of(request).store.workspaces[ws].flows.values())
    flows = [f for f in flows if f["path"].startswith(start) and (exact is None or f["path"] == exact)]
    return JSONResponse(flows)
