"""Shared HTTP plumbing of the REST handlers: errors, text responses, request parsing."""
from __future__ import annotations

import json
from typing import Any, Optional

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .emulator import Emulator


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> HttpError:
    return HttpError(400, "Bad request: %s" % message)


def not_found(message: str) -> HttpError:
    return HttpError(404, "Not found: %s" % message)


def text(value: str, status: int = 200) -> Response:
    return PlainTextResponse(value, status_code=status)


def emulator_of(request: Request) -> Emulator:
    return request.app.state.emulator


def workspace_of(request: Request) -> str:
    """Unknown workspace -> 404 (every path is `/api/w/{workspace}/...`)."""
    workspace = request.path_params["workspace"]
    if emulator_of(request).store.workspace(workspace) is None:
        raise not_found("workspace %s not found" % workspace)
    return workspace


async def read_json(request: Request, default: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request("body is not valid JSON: %s" % exc)


def query_bool(request: Request, name: str) -> Optional[bool]:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    return value.lower() in ("true", "1", "yes")


async def read_json_extractor(request: Request) -> Any:
    """axum's `Json<T>` extractor (axum/src/extract/rejection.rs, as Windmill's handlers use it):
    no JSON content type -> 415, an empty or malformed body -> 400."""
    if "json" not in request.headers.get("content-type", "").lower():
        raise HttpError(415, "Expected request with `Content-Type: application/json`")
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise HttpError(400, "Failed to parse the request body as JSON: %s" % exc)
