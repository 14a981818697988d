"""The REST surface (base `/api`), shaped like Windmill's OpenAPI 1.743 (windmill.md §12):
routes, Bearer-token auth and the app itself; handlers live in the `api_*` modules."""
from __future__ import annotations

import contextlib
from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import api_flows, api_jobs, api_schedules, page
from .emulator import Emulator
from .jobs import EMAIL, USERNAME, iso, now
from .rest import HttpError, emulator_of, read_json, text, workspace_of

VERSION = "CE v1.743.0 (metaflow-orchestrators windmill emulator)"
# Auth is not required for these (Windmill serves them before login).
PUBLIC = ("/api/version", "/api/auth/login", "/api/openapi.yaml")
Handler = Callable[[Request], Awaitable[Response]]


# ---- misc --------------------------------------------------------------------------------
async def version(request: Request) -> Response:
    return text(VERSION)


async def login(request: Request) -> Response:
    """POST /auth/login: any known user gets the emulator token (there is one user, admin)."""
    body = await read_json(request, {}) or {}
    emu = emulator_of(request)
    if body.get("email") != emu.login_email or body.get("password") != emu.login_password:
        raise HttpError(401, "Invalid login")
    response = text(emu.token)
    response.set_cookie("token", emu.token)
    return response


STARTED_AT = iso(now())


async def whoami_global(request: Request) -> Response:
    """`GlobalUserInfo` of the one user."""
    return JSONResponse({"email": EMAIL, "username": USERNAME, "login_type": "password", "super_admin": True,
                         "verified": True, "first_time_user": False, "role_source": "manual", "disabled": False})


async def whoami(request: Request) -> Response:
    """Workspace `User`: clients derive `u/<username>/...` paths from it."""
    workspace_of(request)
    return JSONResponse({"email": EMAIL, "username": USERNAME, "is_admin": True, "is_super_admin": True,
                         "created_at": STARTED_AT, "operator": False, "disabled": False, "groups": [],
                         "folders": [], "folders_read": [], "folders_owners": []})


async def run_page(request: Request) -> Response:
    return page.page(request)


async def workspaces_list(request: Request) -> Response:
    return JSONResponse([{"id": w, "name": w, "owner": EMAIL} for w in emulator_of(request).store.workspaces])


# ---- app -----------------------------------------------------------------------------------
W = "/api/w/{workspace}"
ROUTES = [
    ("GET", "/api/version", version), ("POST", "/api/auth/login", login),
    ("GET", "/run/{id}", run_page),  # the run page our CLI links to (client.ui_url), read-only
    ("GET", "/api/users/whoami", whoami_global), ("GET", "/api/workspaces/list", workspaces_list),
    ("GET", W + "/users/whoami", whoami),
    ("POST", W + "/folders/create", api_flows.folder_create), ("GET", W + "/folders/exists/{name}", api_flows.folder_exists),
    ("GET", W + "/folders/get/{name}", api_flows.folder_get),
    ("POST", W + "/flows/create", api_flows.flow_create), ("POST", W + "/flows/update/{path:path}", api_flows.flow_update),
    ("GET", W + "/flows/exists/{path:path}", api_flows.flow_exists), ("GET", W + "/flows/get/{path:path}", api_flows.flow_get),
    ("DELETE", W + "/flows/delete/{path:path}", api_flows.flow_delete), ("GET", W + "/flows/list", api_flows.flow_list),
    ("POST", W + "/flows/archive/{path:path}", api_flows.flow_archive),
    ("POST", W + "/jobs/run/f/{path:path}", api_jobs.run_flow), ("POST", W + "/jobs/run_wait_result/f/{path:path}", api_jobs.run_flow_wait),
    ("POST", W + "/jobs/run/preview_flow", api_jobs.run_preview_flow),
    ("GET", W + "/jobs_u/get/{id}", api_jobs.job_get), ("GET", W + "/jobs_u/completed/get/{id}", api_jobs.job_completed_get),
    ("GET", W + "/jobs_u/completed/get_result/{id}", api_jobs.job_result),
    ("GET", W + "/jobs_u/completed/get_result_maybe/{id}", api_jobs.job_result_maybe),
    ("GET", W + "/jobs_u/getupdate/{id}", api_jobs.job_update), ("GET", W + "/jobs_u/get_logs/{id}", api_jobs.job_logs),
    ("GET", W + "/jobs_u/get_flow_all_logs/{id}", api_jobs.flow_all_logs),
    ("POST", W + "/jobs_u/queue/cancel/{id}", api_jobs.job_cancel), ("POST", W + "/jobs_u/queue/force_cancel/{id}", api_jobs.job_cancel),
    ("GET", W + "/jobs/result_by_id/{flow_job_id}/{node_id}", api_jobs.result_by_id),
    ("POST", W + "/jobs/restart/f/{id}", api_jobs.restart_flow),
    ("GET", W + "/jobs/list", api_jobs.jobs_list), ("GET", W + "/jobs/completed/list", api_jobs.jobs_completed_list),
    ("GET", W + "/jobs/queue/list", api_jobs.jobs_queue_list),
    ("POST", W + "/schedules/create", api_schedules.schedule_create), ("POST", W + "/schedules/update/{path:path}", api_schedules.schedule_update),
    ("GET", W + "/schedules/get/{path:path}", api_schedules.schedule_get), ("GET", W + "/schedules/exists/{path:path}", api_schedules.schedule_exists),
    ("DELETE", W + "/schedules/delete/{path:path}", api_schedules.schedule_delete),
    ("POST", W + "/schedules/setenabled/{path:path}", api_schedules.schedule_setenabled), ("GET", W + "/schedules/list", api_schedules.schedule_list),
    ("POST", "/api/schedules/preview", api_schedules.schedule_preview), ("POST", W + "/schedules/preview", api_schedules.schedule_preview),
    ("POST", W + "/variables/create", api_schedules.variable_create), ("POST", W + "/variables/update/{path:path}", api_schedules.variable_update),
    ("GET", W + "/variables/get/{path:path}", api_schedules.variable_get), ("GET", W + "/variables/get_value/{path:path}", api_schedules.variable_get_value),
    ("GET", W + "/variables/exists/{path:path}", api_schedules.variable_exists),
    ("DELETE", W + "/variables/delete/{path:path}", api_schedules.variable_delete), ("GET", W + "/variables/list", api_schedules.variable_list),
]


def _guard(handler: Handler) -> Handler:
    """Bearer token (or `token` cookie) auth -> 401; HttpError -> its status as text."""
    async def wrapped(request: Request) -> Response:
        emu = emulator_of(request)
        if request.url.path not in PUBLIC and not _authorized(request, emu.token):
            return text("Unauthorized", 401)
        try:
            return await handler(request)
        except HttpError as exc:
            return text(exc.message, exc.status)
    return wrapped


def _authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer ") and header[7:].strip() == token:
        return True
    return request.cookies.get("token") == token


def build_app(emulator: Emulator) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        emulator.scheduler.start()
        try:
            yield
        finally:
            emulator.scheduler.stop()
            emulator.engine.shutdown()

    routes = [Route(path, _guard(handler), methods=[method]) for method, path, handler in ROUTES]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.emulator = emulator
    return app
