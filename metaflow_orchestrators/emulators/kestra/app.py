"""Kestra's REST API (the subset in kestra.md §12), as a Starlette app.

Every route exists twice: `/api/v1/...` (the ≤0.22 form / compatibility layer) and the tenant
form `/api/v1/main/...` (OSS tenant `main`). Execution actions follow the emulated version:
1.x `/{id}/kill|restart`, 2.x `/{id}/actions/kill|restart` (kestra.md §1, §14).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from .engine import Conflict, Engine, NotFound
from .inputs import InputError
from .parser import FlowValidationError, load_yaml, parse_flow
from .records import Execution
from .triggers import FlowTriggers, Scheduler, fire_webhook
from . import page

VERSIONS = {1: "1.3.0", 2: "2.0.0"}
Handler = Callable[[Request], Awaitable[Response]]


_TITLES = {404: "Not Found", 409: "Conflict", 422: "Invalid entity"}


def error(status: int, message: str, details: Optional[List[str]] = None, v2: bool = False,
          path: str = "") -> JSONResponse:
    """Kestra error body. 1.x Micronaut JsonError: `message` plus `_embedded.errors` for constraint
    violations. 2.x RFC 9457 `application/problem+json`: `type`, `title`, `status`, `detail`,
    `instance`, `errors[]` (the shape the published io.kestra:tests:2.0.0 `Problems` assertions
    require and the real 2.0.0 engine's front answers; see realservers/kestra/README.md)."""
    if v2:
        title = _TITLES.get(status, "Error")
        detail = message[len(title) + 2:] if message.startswith(title + ": ") else message
        problem: Dict[str, Any] = {"type": "about:blank", "title": title, "status": status,
                                   "detail": detail, "instance": path}
        if details:
            problem["errors"] = [{"message": d} for d in details]
        return JSONResponse(problem, status_code=status, media_type="application/problem+json")
    body: Dict[str, Any] = {"message": message, "_links": {"self": {"href": "", "templated": False}}}
    if details:
        body["_embedded"] = {"errors": [{"message": d} for d in details]}
    return JSONResponse(body, status_code=status)


class Api:
    """Route handlers bound to one Engine."""

    def __init__(self, engine: Engine, username: Optional[str], password: Optional[str]):
        self.engine = engine
        self.username = username
        self.password = password

    @property
    def v2(self) -> bool:
        return self.engine.version >= 2

    def error(self, request: Request, status: int, message: str, details: Optional[List[str]] = None) -> JSONResponse:
        return error(status, message, details, self.v2, request.url.path)

    # ---- auth --------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        """HTTP Basic, mandatory when configured (OSS since 0.24, kestra.md §12). Open URLs follow
        cli `application.yml` `basic-auth.open-urls` (webhooks); configs stays open for version probes."""
        if self.username is None:
            return True
        path = request.url.path
        if "/executions/webhook/" in path or path.rstrip("/") == "/api/v1/configs":
            return True
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, pwd = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.username) and secrets.compare_digest(pwd, self.password or "")

    def guard(self, handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            if not self.authorized(request):
                return Response("Unauthorized", status_code=401, headers={"WWW-Authenticate": 'Basic realm="Kestra"'})
            try:
                return await handler(request)
            except NotFound as exc:
                return self.error(request, 404, str(exc))
            except Conflict as exc:
                return self.error(request, 409, str(exc))
            except FlowValidationError as exc:
                return self.error(request, 422, "Invalid entity: " + "; ".join(exc.errors), exc.errors)
            except InputError as exc:
                return self.error(request, 422, "Invalid entity: " + "; ".join(exc.errors), exc.errors)
            except ValueError as exc:
                return self.error(request, 422, str(exc))
        return wrapped

    # ---- misc --------------------------------------------------------------------------
    async def configs(self, request: Request) -> Response:
        return JSONResponse({
            "uuid": "kestra-emulator", "version": VERSIONS[self.engine.version], "edition": "OSS",
            "commitId": "emulator", "isBasicAuthInitialized": self.username is not None,
            "isTemplateEnabled": False, "isAnonymousUsageEnabled": False, "systemNamespace": "system",
        })

    # ---- flows -------------------------------------------------------------------------
    async def create_flow(self, request: Request) -> Response:
        source = (await request.body()).decode("utf-8")
        try:
            record = self.engine.create_flow(source)
        except Conflict as exc:
            # 1.x reports an existing id as a constraint violation (kestra.md §12); 2.0 as a conflict
            # (409, seen on the real 2.0.0 engine: FlowService.create).
            if self.v2:
                return self.error(request, 409, str(exc))
            return self.error(request, 422, "Invalid entity: " + str(exc), [str(exc)])
        return JSONResponse(record.to_json(self.engine.version))

    async def update_flow(self, request: Request) -> Response:
        source = (await request.body()).decode("utf-8")
        p = request.path_params
        return JSONResponse(self.engine.update_flow(p["namespace"], p["id"], source).to_json(self.engine.version))

    async def get_flow(self, request: Request) -> Response:
        p = request.path_params
        return JSONResponse(self.engine.get_flow(p["namespace"], p["id"]).to_json(self.engine.version))

    async def delete_flow(self, request: Request) -> Response:
        p = request.path_params
        self.engine.delete_flow(p["namespace"], p["id"])
        return Response(status_code=204)

    async def list_namespace_flows(self, request: Request) -> Response:
        ns = request.path_params["namespace"]
        with self.engine.lock:
            records = [r for (n, _), r in self.engine.flows.items() if n == ns]
        return JSONResponse([r.to_json(self.engine.version, with_source=False) for r in records])

    async def validate_flows(self, request: Request) -> Response:
        """One result per YAML document; `constraints` is null when valid (kestra.md §12)."""
        text = (await request.body()).decode("utf-8")
        results = []
        for index, doc in enumerate(d for d in text.split("\n---") if d.strip()):
            item: Dict[str, Any] = {"index": index, "outdated": False, "deprecationPaths": [],
                                    "warnings": [], "infos": []}
            try:
                flow = parse_flow(doc, self.engine.version)
                item.update({"namespace": flow["namespace"], "flow": flow["id"]})
            except FlowValidationError as exc:
                item["constraints"] = "\n".join(exc.errors)
                try:
                    raw = load_yaml(doc)
                    item.update({k2: str(raw[k1]) for k1, k2 in (("namespace", "namespace"), ("id", "flow"))
                                 if k1 in raw})
                except FlowValidationError:
                    pass
            results.append(item)
        return JSONResponse(results)

    # ---- executions --------------------------------------------------------------------
    async def trigger(self, request: Request) -> Response:
        p = request.path_params
        submitted = await self._form(request)
        labels = _query_labels(request)
        exe = self.engine.create_execution(p["namespace"], p["id"], submitted, labels)
        if request.query_params.get("wait", "false").lower() == "true":
            await asyncio.get_running_loop().run_in_executor(None, exe.done.wait)
        body = exe.to_json(self.engine.version)
        body["url"] = "%s/ui/main/executions/%s/%s/%s" % (str(request.base_url).rstrip("/"),
                                                          exe.namespace, exe.flow_id, exe.id)
        return JSONResponse(body)

    @staticmethod
    async def _form(request: Request) -> Dict[str, Any]:
        """One multipart part per input (kestra.md §9.3); file parts give their text content."""
        if not request.headers.get("content-type", "").startswith(("multipart/form-data",
                                                                    "application/x-www-form-urlencoded")):
            return {}
        form = await request.form()
        values: Dict[str, Any] = {}
        for key, value in form.multi_items():
            if hasattr(value, "read"):
                values[key] = (await value.read()).decode("utf-8", "replace")
            else:
                values[key] = value
        return values

    async def execution_page(self, request: Request) -> Response:
        return page.page(self.engine, request)

    async def get_execution(self, request: Request) -> Response:
        exe = self.engine.get_execution(request.path_params["executionId"])
        return JSONResponse(exe.to_json(self.engine.version))

    async def delete_execution(self, request: Request) -> Response:
        self.engine.delete_execution(request.path_params["executionId"])
        return Response(status_code=204)

    async def list_executions(self, request: Request) -> Response:
        q = request.query_params
        return self._paged(request, self.engine.search(q.get("namespace"), q.get("flowId")), light=False)

    async def search_executions(self, request: Request) -> Response:
        """`filters[field][OP]=v` (1.3/2.x); legacy `namespace`/`flowId`/`state` only in 1.x (kestra.md §12)."""
        q = request.query_params
        ns = q.get("filters[namespace][EQUALS]") or q.get("filters[namespace][PREFIX]")
        flow_id = q.get("filters[flowId][EQUALS]")
        states = q.get("filters[state][IN]") or q.get("filters[state][EQUALS]")
        state_list = states.split(",") if states else None
        kind = q.get("filters[kind][EQUALS]")
        parent_id = q.get("filters[parentId][EQUALS]")
        if not self.v2:
            ns = ns or q.get("namespace")
            flow_id = flow_id or q.get("flowId")
            state_list = state_list or q.getlist("state") or None
        return self._paged(request, self.engine.search(ns, flow_id, state_list, kind, parent_id), light=self.v2)

    def _paged(self, request: Request, executions: List[Execution], light: bool) -> Response:
        page = max(int(request.query_params.get("page", 1)), 1)
        size = max(int(request.query_params.get("size", 10)), 1)
        chunk = executions[(page - 1) * size: page * size]
        results = [e.to_json(self.engine.version) for e in chunk]
        if light:
            # 2.x search returns ApiLightExecution (no taskRunList).
            for r in results:
                for key in ("taskRunList", "deleted", "metadata", "variables"):
                    r.pop(key, None)
                r["tenantId"] = "main"
        return JSONResponse({"results": results, "total": len(executions)})

    async def kill(self, request: Request) -> Response:
        cascade = request.query_params.get("isOnKillCascade", "true").lower() != "false"
        exe = self.engine.kill(request.path_params["executionId"], cascade)
        # 1.3 answers 202 (kill requested); 2.x 200 with the Execution (spec).
        if self.v2:
            return JSONResponse(exe.to_json(self.engine.version), media_type="text/json")
        return Response(status_code=202)

    async def restart(self, request: Request) -> Response:
        exe = self.engine.restart(request.path_params["executionId"])
        return JSONResponse(exe.to_json(self.engine.version))

    async def follow(self, request: Request) -> Response:
        """Server-sent events: the execution after each change until it terminates."""
        exe = self.engine.get_execution(request.path_params["executionId"])

        async def events() -> Any:
            last = None
            for _ in range(36000):
                body = json.dumps(exe.to_json(self.engine.version))
                if body != last:
                    yield "event: message\ndata: %s\n\n" % body
                    last = body
                if exe.done.is_set() and exe.state.is_terminated():
                    return
                await asyncio.sleep(0.2)

        return StreamingResponse(events(), media_type="text/event-stream")

    # ---- logs & outputs ------------------------------------------------------------------
    def _log_query(self, request: Request) -> List[Dict[str, Any]]:
        q = request.query_params
        attempt = q.get("attempt")
        return self.engine.get_logs(
            request.path_params["executionId"],
            # 2.x: LEVEL takes GREATER_THAN_OR_EQUAL_TO/LESS_THAN_OR_EQUAL_TO/IN/NOT_IN
            # (core/io/kestra/core/models/QueryFilter.java@v2.0.0, Field.LEVEL).
            min_level=q.get("minLevel") or q.get("filters[level][GREATER_THAN_OR_EQUAL_TO]"),
            task_id=q.get("taskId") or q.get("filters[taskId][EQUALS]"),
            taskrun_id=q.get("taskRunId") or q.get("filters[taskRunId][EQUALS]"),
            attempt=int(attempt) if attempt is not None else None)

    async def logs(self, request: Request) -> Response:
        return JSONResponse(self._log_query(request))

    async def logs_follow(self, request: Request) -> Response:
        """Server-sent events: each new log entry, until the execution terminates."""
        exe = self.engine.get_execution(request.path_params["executionId"])

        async def events() -> Any:
            sent = 0
            for _ in range(36000):
                entries = self._log_query(request)
                for entry in entries[sent:]:
                    yield "event: message\ndata: %s\n\n" % json.dumps(entry)
                sent = len(entries)
                if exe.done.is_set() and exe.state.is_terminated():
                    return
                await asyncio.sleep(0.2)

        return StreamingResponse(events(), media_type="text/event-stream")

    async def logs_download(self, request: Request) -> Response:
        lines = ["%s %s %s" % (e["timestamp"], e["level"], e["message"]) for e in self._log_query(request)]
        return PlainTextResponse("\n".join(lines) + ("\n" if lines else ""))

    async def outputs(self, request: Request) -> Response:
        """2.x `GET /outputs/{executionId}`: one entry per task run that has outputs (spec 2.0)."""
        exe = self.engine.get_execution(request.path_params["executionId"])
        with exe.lock:
            items = [{"taskId": t.task_id, "taskRunId": t.id, "inline": True,
                      **({"value": t.value} if t.value is not None else {}),
                      **({"iteration": t.iteration} if t.iteration is not None else {})}
                     for t in exe.task_runs if t.outputs is not None]
        return JSONResponse(items)

    async def taskrun_outputs(self, request: Request) -> Response:
        exe = self.engine.get_execution(request.path_params["executionId"])
        with exe.lock:
            for t in exe.task_runs:
                if t.id == request.path_params["taskRunId"]:
                    return JSONResponse(t.outputs or {})
        raise NotFound("Unable to find task run %s" % request.path_params["taskRunId"])

    # ---- webhook -----------------------------------------------------------------------
    async def webhook(self, request: Request) -> Response:
        p = request.path_params
        raw = await request.body()
        text = raw.decode("utf-8", "replace")
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = text  # non-JSON bodies arrive as the raw string (source 0.21 Webhook)
        headers = {k: request.headers.getlist(k) for k in request.headers.keys()}
        if p.get("path") is not None or request.url.path.endswith("/"):
            # A path after the key is rejected (core/.../trigger/Webhook.java@v1.3.34/@v2.0.0 `evaluate`).
            return Response(status_code=404)
        params = {k: request.query_params.getlist(k) for k in request.query_params.keys()}
        exe = fire_webhook(self.engine, p["namespace"], p["id"], p["key"], body, headers, params)
        if isinstance(exe, int):
            return Response(status_code=exe)
        data = exe.to_json(self.engine.version)
        data["url"] = "%s/ui/main/executions/%s/%s/%s" % (str(request.base_url).rstrip("/"),
                                                          exe.namespace, exe.flow_id, exe.id)
        return JSONResponse({k: data[k] for k in ("id", "namespace", "flowId", "flowRevision", "trigger",
                                                  "labels", "state", "url") if k in data})


def _query_labels(request: Request) -> List[Dict[str, str]]:
    """`labels=key:value`, repeatable (kestra.md §12)."""
    labels = []
    for item in request.query_params.getlist("labels"):
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise ValueError("Invalid label '%s', expected key:value" % item)
        labels.append({"key": key, "value": value})
    return labels


def _routes(api: Api) -> List[Route]:
    g = api.guard
    version_actions = [
        ("/executions/{executionId}/actions/kill", api.kill, ["DELETE"]),
        ("/executions/{executionId}/actions/restart", api.restart, ["POST"]),
        ("/outputs/{executionId}", api.outputs, ["GET"]),
        ("/outputs/{executionId}/{taskRunId}", api.taskrun_outputs, ["GET"]),
    ] if api.v2 else [
        ("/executions/{executionId}/kill", api.kill, ["DELETE"]),
        ("/executions/{executionId}/restart", api.restart, ["POST"]),
    ]
    table = [
        ("/flows", api.create_flow, ["POST"]),
        ("/flows/validate", api.validate_flows, ["POST"]),
        ("/flows/{namespace}", api.list_namespace_flows, ["GET"]),
        ("/flows/{namespace}/{id}", api.get_flow, ["GET"]),
        ("/flows/{namespace}/{id}", api.update_flow, ["PUT"]),
        ("/flows/{namespace}/{id}", api.delete_flow, ["DELETE"]),
        ("/executions", api.list_executions, ["GET"]),
        ("/executions/search", api.search_executions, ["GET"]),
        ("/executions/webhook/{namespace}/{id}/{key}", api.webhook, ["GET", "POST", "PUT"]),
        ("/executions/webhook/{namespace}/{id}/{key}/{path:path}", api.webhook, ["GET", "POST", "PUT"]),
        ("/executions/{executionId}/follow", api.follow, ["GET"]),
        ("/logs/{executionId}", api.logs, ["GET"]),
        ("/logs/{executionId}/download", api.logs_download, ["GET"]),
        ("/logs/{executionId}/follow", api.logs_follow, ["GET"]),
    ] + version_actions + [
        ("/executions/{namespace}/{id}", api.trigger, ["POST"]),
        ("/executions/{executionId}", api.get_execution, ["GET"]),
        ("/executions/{executionId}", api.delete_execution, ["DELETE"]),
    ]
    routes = [Route("/api/v1/configs", g(api.configs), methods=["GET"])]
    # The execution page our CLI links to (client.ui_url), read-only (emulators/pages.py).
    for ui in ("/ui/executions/{namespace}/{flowId}/{executionId}", "/ui/{tenant}/executions/{namespace}/{flowId}/{executionId}"):
        routes.append(Route(ui, g(api.execution_page), methods=["GET"]))
    for prefix in ("/api/v1/main", "/api/v1"):
        for path, handler, methods in table:
            routes.append(Route(prefix + path, g(handler), methods=methods))
    return routes


def create_app(version: int = 2, username: Optional[str] = None, password: Optional[str] = None,
               workdir: Optional[str] = None, scheduler: bool = True) -> Starlette:
    """The ASGI app; ``app.state.engine`` gives tests direct access to the engine."""
    if version not in VERSIONS:
        raise ValueError("version must be 1 or 2")
    engine = Engine(version, workdir)
    engine.hidden_env = frozenset(v for v in (password,) if v)
    api = Api(engine, username, password)
    FlowTriggers(engine)
    sched = Scheduler(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if scheduler:
            sched.start()
        try:
            yield
        finally:
            engine.shutdown()

    app = Starlette(routes=_routes(api), lifespan=lifespan)
    app.state.engine = engine
    app.state.scheduler = sched
    return app
