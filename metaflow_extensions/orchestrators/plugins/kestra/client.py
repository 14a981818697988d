"""A small, explicit REST client for Kestra 1.x and 2.x (reference: kestra.md §11, §12).

Why our own client rather than kestrapy: kestrapy 2.x targets the 2.x ``/actions/`` paths only
(404 on 1.x) and we must drive both major versions from one code path. The differences are kept
in a few places, decided by the version the server reports at ``GET /api/v1/configs``:

* tenant segment: ``/api/v1/main/...`` since 0.23 (OSS tenant ``main``), none before;
* execution actions: 1.x ``executions/{id}/kill|restart``, 2.x ``executions/{id}/actions/...``;
* task outputs: 1.x inline in ``taskRunList[*].outputs``, 2.x from ``GET outputs/{id}/...``;
* log filters: 1.x ``minLevel``/``taskId``, 2.x ``filters[...]`` query syntax.

Errors are turned into :class:`KestraError` subclasses carrying one user-facing line that
never contains a password or token. Only GET requests are retried (see ``_send``).
"""
from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

if TYPE_CHECKING:  # imported where a client is made: `compile` never connects and skips it (~30 ms)
    import httpx

from ..rest import (
    EngineAuthError,
    EngineConflict,
    EngineConnectionError,
    EngineError,
    EngineInvalid,
    EngineNotFound,
    EngineTimeout,
    RestClient,

    split_userinfo,
)

__all__ = [
    "KestraError", "KestraConnectionError", "KestraAuthError", "KestraNotFound", "KestraInvalid",
    "KestraConflict", "KestraTimeout", "TERMINAL_STATES", "KestraClient",
]

# Terminal execution / task-run states (kestra.md §11, source `State.isTerminated`).
TERMINAL_STATES = frozenset({"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED"})

# Log levels, lowest first (slf4j `Level`), for the client-side `min_level` filter.
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
# Seconds between two searches for a running 2.x execution's Loop iterations while `wait`
# reports progress (its own state is read at every poll).
ITERATIONS_REFRESH = 1.0

_CREDENTIALS_HINT = ("check KESTRA_USER/KESTRA_PASSWORD (or --kestra-user/--kestra-password), "
                     "or KESTRA_TOKEN for a Kestra Enterprise API token")
_HOST_HINT = "is it running? Set --kestra-host or KESTRA_HOST"


# Kestra's names for the shared error tree (``..rest``): the status code travels in ``.status``.
KestraError = EngineError
KestraConnectionError = EngineConnectionError
KestraAuthError = EngineAuthError
KestraNotFound = EngineNotFound
KestraInvalid = EngineInvalid
KestraConflict = EngineConflict
KestraTimeout = EngineTimeout


Version = Tuple[int, int, int]
OnUpdate = Callable[[Dict[str, Any]], None]


class KestraClient(RestClient):
    """Kestra REST API client for 1.x and 2.x servers (OSS, or Enterprise with ``token``/``tenant``).

    ``tenant``: ``None`` = automatic (``main`` from 0.23 on, no tenant segment before);
    ``""`` = never a tenant segment; any other string is used as given (Enterprise tenants).
    ``transport``: an optional httpx transport, e.g. ``httpx.MockTransport`` in tests.
    """

    ENGINE = "Kestra"
    HOST_HINT = _HOST_HINT
    CREDENTIALS_HINT = _CREDENTIALS_HINT

    def __init__(self, host: str, username: Optional[str] = None, password: Optional[str] = None,
                 token: Optional[str] = None, tenant: Optional[str] = None, timeout: float = 30.0,
                 retries: int = 3, transport: Optional[httpx.BaseTransport] = None):
        host, url_user, url_password = split_userinfo(host.strip().rstrip("/"))
        self._tenant = tenant
        self._version: Optional[Version] = None
        # Loop iterations read, each with the iterations under it, by id (loop_executions).
        self._iterations_read: Dict[str, List[Dict[str, Any]]] = {}
        # (execution id, when, mark) of the last iteration search of `wait` (_progress_mark).
        self._iterations_mark: Optional[Tuple[str, float, Tuple[Any, ...]]] = None
        username = username if username is not None else url_user
        password = password if password is not None else url_password
        headers: Dict[str, str] = {}
        auth: Optional[httpx.Auth] = None
        if token:
            headers["Authorization"] = "Bearer %s" % token
        elif username is not None or password is not None:
            import httpx

            auth = httpx.BasicAuth(username or "", password or "")
        described = "token" if token else ("user %r" % username if username else "no credentials")
        if described == "no credentials" and password:
            described = "a password"
        # No session-wide Content-Type: each request sets its own (x-yaml, multipart, JSON).
        super().__init__(host, headers=headers, auth=auth, secrets=(password, token), auth_desc=described,
                         timeout=timeout, retries=retries, transport=transport)

    def __repr__(self) -> str:
        # Never show the password or token: repr() ends up in logs and tracebacks.
        return "KestraClient(host=%r, auth=%s, tenant=%r)" % (self.host, self._auth_desc, self._tenant)

    # ---- version and paths ---------------------------------------------------------------
    @property
    def version(self) -> Version:
        """(major, minor, patch) reported by ``GET /api/v1/configs`` (untenanted, cached)."""
        if self._version is None:
            body = self._json(self._send("GET", "/api/v1/configs", "the server configuration"))
            raw = str((body or {}).get("version") or "") if isinstance(body, dict) else ""
            found = re.match(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?", raw)
            if not found:
                raise KestraError("Kestra at %s did not report a version at /api/v1/configs (got %r); "
                                  "is this a Kestra server?" % (self.host, raw[:80]))
            self._version = (int(found.group(1)), int(found.group(2)), int(found.group(3) or 0))
        return self._version

    @property
    def major(self) -> int:
        return self.version[0]

    @property
    def tenant(self) -> Optional[str]:
        """The tenant path segment, or None when the server has none (≤ 0.22) or it was disabled."""
        if self._tenant is not None:
            return self._tenant or None
        return "main" if self.version >= (0, 23, 0) else None

    def _api(self, *parts: str) -> str:
        """``/api/v1[/{tenant}]/part/part``; each part is URL-quoted (ids may hold odd characters)."""
        tenant = self.tenant
        segments = ["api", "v1"] + ([quote(tenant, safe="")] if tenant else [])
        segments += [quote(p, safe="") for p in parts]
        return "/" + "/".join(segments)

    def _action(self, execution_id: str, action: str) -> str:
        """1.x ``executions/{id}/{action}``; 2.x moved them under ``/actions/`` (kestra.md §14)."""
        if self.major >= 2:
            return self._api("executions", execution_id, "actions", action)
        return self._api("executions", execution_id, action)

    # ---- flows ------------------------------------------------------------------------------
    def validate_flow(self, source: str) -> List[str]:
        """Server-side validation; the constraint messages, [] when the flow is valid.

        ``POST flows/validate`` answers 200 with one result per YAML document whose
        ``constraints`` is null when valid; a 422 (some versions) is turned into messages too."""
        try:
            response = self._send("POST", self._api("flows", "validate"), "the flow",
                                  content=source.encode("utf-8"), headers=_YAML)
        except KestraInvalid as exc:
            return list(exc.messages) or [str(exc)]
        messages: List[str] = []
        for item in self._json(response) or []:
            constraints = item.get("constraints") if isinstance(item, dict) else None
            if constraints:
                messages.extend(line.strip() for line in str(constraints).splitlines() if line.strip())
        return messages

    def get_flow(self, namespace: str, flow_id: str) -> Optional[Dict[str, Any]]:
        """The flow with its source, or None when it does not exist."""
        try:
            response = self._send("GET", self._api("flows", namespace, flow_id),
                                  _flow_name(namespace, flow_id), params={"source": "true"})
        except KestraNotFound:
            return None
        return self._json(response)

    def upsert_flow(self, source: str, namespace: str, flow_id: str, exists: Optional[bool] = None) -> Dict[str, Any]:
        """Create or update: PUT when it exists, POST when it does not (``exists``: asked
        with a GET when the caller does not know).

        Deliberately not "POST and PUT on 422": Kestra reports validation errors as 422 too,
        so a 422 must surface as :class:`KestraInvalid`, not be mistaken for "exists"."""
        subject = _flow_name(namespace, flow_id)
        body = source.encode("utf-8")
        if exists is None:
            exists = self.get_flow(namespace, flow_id) is not None
        if exists:
            response = self._send("PUT", self._api("flows", namespace, flow_id), subject,
                                  content=body, headers=_YAML)
        else:
            response = self._send("POST", self._api("flows"), subject, content=body, headers=_YAML)
        return self._json(response)

    def delete_flow(self, namespace: str, flow_id: str) -> None:
        self._send("DELETE", self._api("flows", namespace, flow_id), _flow_name(namespace, flow_id))

    def list_flows(self, namespace: str) -> List[Dict[str, Any]]:
        """Flows of exactly this namespace (``GET flows/{namespace}``)."""
        return list(self._json(self._send("GET", self._api("flows", namespace),
                                          "the namespace %s" % namespace)) or [])

    # ---- executions ------------------------------------------------------------------------
    def trigger(self, namespace: str, flow_id: str, inputs: Optional[Dict[str, Any]] = None,
                labels: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Start an execution; returns Kestra's answer (the Execution plus ``url``).

        Inputs go as real multipart/form-data, one text part per input (kestra.md §12); with no
        inputs there is no body at all. Never retried once sent (see ``_send``): a retry could
        start the flow twice."""
        params = [("labels", "%s:%s" % (k, v)) for k, v in (labels or {}).items()]
        files = [(name, (None, encode_input(value))) for name, value in (inputs or {}).items()
                 if value is not None]
        response = self._send("POST", self._api("executions", namespace, flow_id),
                              _flow_name(namespace, flow_id), params=params, files=files or None)
        return self._json(response)

    def get_execution(self, execution_id: str) -> Dict[str, Any]:
        return self._json(self._send("GET", self._api("executions", execution_id),
                                     "execution %s" % execution_id))

    def task_runs(self, execution_id: str, execution: Optional[Dict[str, Any]] = None,
                  deep: bool = True, outputs: bool = True) -> List[Dict[str, Any]]:
        """The execution's ``taskRunList``, each entry with an ``outputs`` dict on both versions,
        and (``deep``) those of its 2.x Loop iterations, each tagged with the iteration's
        ``executionId`` and ``loopValue``.

        1.x returns outputs inline. 2.x dropped them from the task runs: ``GET outputs/{id}``
        lists the task runs that have outputs (``TaskOutputInformation``, no values) and
        ``GET outputs/{id}/{taskRunId}`` gives each map (spec 2.0). Entries without outputs get {}
        (all of them with ``outputs=False``, which saves those requests)."""
        if execution is None:
            execution = self.get_execution(execution_id)
        runs = self._own_task_runs(execution_id, execution, outputs)
        if deep:
            for sub in self.loop_executions(execution_id):
                value = (sub.get("loopRun") or {}).get("value")
                for run in self._own_task_runs(sub["id"], sub, outputs):
                    run.setdefault("executionId", sub["id"])
                    if value is not None and run.get("value") is None:
                        run["loopValue"] = value
                    runs.append(run)
        return runs

    def loop_executions(self, execution_id: str) -> List[Dict[str, Any]]:
        """2.x: the executions of the Loop iterations under this one, at any depth. Each
        iteration is an execution of kind ``LOOP`` whose ``parentId`` is the execution that
        ran the Loop, and the parent's ``taskRunList`` never lists its task runs
        (``Execution.loopExecution``@v2.0.0); search by kind and parent, then read each.

        An iteration is not read or searched again while the search shows it in the state it
        had when read, if it had ended with every iteration under it (its task runs are final;
        a restart changes its state first) or had no iteration under it. The second rule is
        what lets ``wait`` follow a wide Loop: each iteration is read when it starts and when
        it ends, not at every update; the steps inside a running multi-step iteration show
        when that iteration ends."""
        if self.major < 2:
            return []
        found: List[Dict[str, Any]] = []
        for light in self._iterations_of(execution_id):
            found += self._subtree(light)
        return found

    def _iterations_of(self, parent: str) -> List[Dict[str, Any]]:
        return self._search_all({"filters[kind][EQUALS]": "LOOP", "filters[parentId][EQUALS]": parent})

    def _subtree(self, light: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The iteration ``light`` (a search result), read whole, then the iterations under it."""
        known = self._iterations_read.get(light["id"])
        if known is not None and _same_state(known[0], light):
            return known
        execution = self.get_execution(light["id"])
        tree = [execution]
        for child in self._iterations_of(light["id"]):
            tree += self._subtree(child)
        if _same_state(execution, light) and (
                len(tree) == 1 or all(_current_state(e) in TERMINAL_STATES for e in tree)):
            self._iterations_read[light["id"]] = tree
        return tree

    def _search_all(self, filters: Dict[str, str], size: int = 100) -> List[Dict[str, Any]]:
        results: List[Dict[str, Any]] = []
        page = 1
        while True:
            body = self._json(self._send("GET", self._api("executions", "search"), "execution search",
                                         params={**filters, "page": page, "size": size})) or {}
            chunk = body.get("results") or []
            results += chunk
            if len(chunk) < size or len(results) >= int(body.get("total") or 0):
                return results
            page += 1

    def _own_task_runs(self, execution_id: str, execution: Dict[str, Any], outputs: bool) -> List[Dict[str, Any]]:
        runs = [dict(run) for run in execution.get("taskRunList") or []]
        missing = [run for run in runs if run.get("outputs") is None]
        if missing and outputs and self.major >= 2:
            with_outputs = {info.get("taskRunId") for info in self._output_infos(execution_id)}
            for run in missing:
                if run.get("id") in with_outputs:
                    run["outputs"] = self._taskrun_outputs(execution_id, run["id"])
        for run in runs:
            if run.get("outputs") is None:
                run["outputs"] = {}
        return runs

    def _output_infos(self, execution_id: str) -> List[Dict[str, Any]]:
        body = self._json(self._send("GET", self._api("outputs", execution_id),
                                     "the outputs of execution %s" % execution_id))
        return [item for item in body or [] if isinstance(item, dict)]

    def _taskrun_outputs(self, execution_id: str, taskrun_id: str) -> Dict[str, Any]:
        try:
            body = self._json(self._send("GET", self._api("outputs", execution_id, taskrun_id),
                                         "the outputs of task run %s" % taskrun_id))
        except KestraNotFound:
            return {}
        return body if isinstance(body, dict) else {}

    def list_executions(self, namespace: str, flow_id: str, size: int = 25) -> List[Dict[str, Any]]:
        """The flow's latest executions, newest first (sorted here: the server's order is unspecified)."""
        body = self._json(self._send("GET", self._api("executions"), _flow_name(namespace, flow_id),
                                     params={"namespace": namespace, "flowId": flow_id,
                                             "page": 1, "size": max(int(size), 1)}))
        results = [e for e in (body or {}).get("results") or []
                   if e.get("namespace") == namespace and e.get("flowId") == flow_id]
        return sorted(results, key=_start_date, reverse=True)

    def kill(self, execution_id: str) -> None:
        """Request a kill (the execution goes KILLING -> KILLED); accepted, and a no-op,
        when it already ended (202 on 1.x, 200 on 2.x)."""
        self._send("DELETE", self._action(execution_id, "kill"), "execution %s" % execution_id)

    def restart(self, execution_id: str) -> Dict[str, Any]:
        """Re-run the failed task runs of an ended execution; same execution id (kestra.md §11)."""
        return self._json(self._send("POST", self._action(execution_id, "restart"),
                                     "execution %s" % execution_id))

    def logs(self, execution_id: str, task_id: Optional[str] = None,
             min_level: Optional[str] = None) -> List[Dict[str, Any]]:
        """Log entries of an execution (with its 2.x Loop iterations'), optionally of one
        task and from a minimum level.

        The filters are sent in the version's syntax and also applied here, because 2.x servers
        ignore the legacy parameters and the exact semantics of ``filters[level]`` vary."""
        level = min_level.upper() if min_level else None
        if level is not None and level not in LOG_LEVELS:
            raise ValueError("min_level must be one of %s" % ", ".join(LOG_LEVELS))
        params: Dict[str, str] = {}
        if self.major >= 2:
            if task_id:
                params["filters[taskId][EQUALS]"] = task_id
            if level:
                # LEVEL takes only these operators (QueryFilter.Field.LEVEL@v2.0.0).
                params["filters[level][GREATER_THAN_OR_EQUAL_TO]"] = level
        else:
            if task_id:
                params["taskId"] = task_id
            if level:
                params["minLevel"] = level
        entries: List[Dict[str, Any]] = []
        for eid in [execution_id] + [sub["id"] for sub in self.loop_executions(execution_id)]:
            # 2.x Loop iterations log under their own execution ids.
            body = self._json(self._send("GET", self._api("logs", eid),
                                         "the logs of execution %s" % eid, params=params))
            entries += [e for e in body or [] if isinstance(e, dict)]
        if task_id:
            entries = [e for e in entries if e.get("taskId") == task_id]
        if level:
            floor = LOG_LEVELS.index(level)
            entries = [e for e in entries if _level_rank(e.get("level")) >= floor]
        return entries

    def webhook(self, namespace: str, flow_id: str, key: str, payload: Any) -> Optional[Dict[str, Any]]:
        """Fire a flow's Webhook trigger with a JSON body; None when Kestra started nothing (204)."""
        response = self._send("POST", self._api("executions", "webhook", namespace, flow_id, key),
                              "the webhook of %s" % _flow_name(namespace, flow_id),
                              content=json.dumps(payload).encode("utf-8"), headers=_JSON)
        if response.status_code == 204 or not response.content:
            return None
        return self._json(response)

    def wait(self, execution_id: str, max_wait: Optional[float] = None, poll: float = 1.0,
             on_update: Optional[OnUpdate] = None, closing: Optional[Callable[[], bool]] = None) -> Dict[str, Any]:
        """Poll until the execution reaches a terminal state and return it.

        ``on_update(execution)`` is called whenever the execution state or any task-run state
        changed (live progress). Raises :class:`KestraTimeout` after ``max_wait`` seconds; the
        execution itself keeps running on Kestra."""
        return self._follow(lambda: self.get_execution(execution_id),
                            lambda execution: _current_state(execution) in TERMINAL_STATES,
                            self._progress_mark if on_update is not None else _fingerprint,
                            max_wait, poll, on_update,
                            lambda execution: self._timeout_message(execution_id, execution, max_wait), closing)

    def _progress_mark(self, execution: Dict[str, Any]) -> Tuple[Any, ...]:
        """What ``wait`` compares to see progress: the execution's and its task runs' states,
        and on 2.x, while it runs, those of its Loop iterations: they are executions of their
        own, and the Loop's task run stays RUNNING however many ended. Those come from a
        search at most every ``ITERATIONS_REFRESH`` seconds (the polls in between reuse it),
        sorted: a search has no fixed order."""
        mark = _fingerprint(execution)
        if self.major < 2 or _current_state(execution) in TERMINAL_STATES:
            return mark
        last, now = self._iterations_mark, time.monotonic()
        if last is None or last[0] != execution["id"] or now - last[1] >= ITERATIONS_REFRESH:
            found = sorted((it.get("id"), _current_state(it)) for it in self._iterations_of(execution["id"]))
            last = self._iterations_mark = (execution["id"], now, tuple(found))
        return mark + last[2]

    def _timeout_message(self, execution_id: str, execution: Optional[Dict[str, Any]],
                         max_wait: Optional[float]) -> str:
        state = _current_state(execution) if execution else "not visible yet"
        where = ""
        if execution and execution.get("namespace") and execution.get("flowId"):
            where = "; see %s" % self.ui_url(execution["namespace"], execution["flowId"], execution_id)
        return ("execution %s did not end within %gs (state: %s); it keeps running on Kestra%s"
                % (execution_id, max_wait or 0, state, where))

    def ui_url(self, namespace: str, flow_id: str, execution_id: str) -> str:
        """Link to the execution in Kestra's UI: ``{host}/ui[/{tenant}]/executions/{ns}/{flow}/{id}``."""
        tenant = self.tenant
        parts = ["ui"] + ([tenant] if tenant else []) + ["executions", namespace, flow_id, execution_id]
        return self.host + "/" + "/".join(quote(p, safe="") for p in parts)

    def error_messages(self, response: httpx.Response) -> List[str]:
        return _error_messages(response)


_YAML = {"Content-Type": "application/x-yaml"}
_JSON = {"Content-Type": "application/json"}


def encode_input(value: Any) -> str:
    """One multipart text part: strings verbatim, bools as true/false, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _flow_name(namespace: str, flow_id: str) -> str:
    return "the flow %s.%s" % (namespace, flow_id)


def _error_messages(response: httpx.Response) -> List[str]:
    """Kestra's ``message`` plus ``_embedded.errors[].message`` not already in it (1.x
    Micronaut ``JsonError``), or ``detail``/``title`` plus ``errors[].message`` (2.0's RFC
    9457 ``application/problem+json``); else the text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return [text.splitlines()[0]] if text else []
    if not isinstance(body, dict):
        return [str(body)]
    messages: List[str] = []
    main = body.get("message") or body.get("detail") or body.get("title")
    if main:
        messages.append(str(main))
    errors = (body.get("_embedded") or {}).get("errors") or body.get("errors") or []
    for error in errors if isinstance(errors, list) else []:
        text = error.get("message") if isinstance(error, dict) else None
        if text and not any(str(text) in m for m in messages):
            messages.append(str(text))
    return messages


def _current_state(execution: Optional[Dict[str, Any]]) -> str:
    return str(((execution or {}).get("state") or {}).get("current") or "")


def _same_state(one: Dict[str, Any], other: Dict[str, Any]) -> bool:
    """Same current state and history; a state's other fields (``duration`` of a running
    one) can change from one read to the next."""
    a, b = one.get("state") or {}, other.get("state") or {}
    return (a.get("current"), a.get("histories")) == (b.get("current"), b.get("histories"))


def _fingerprint(execution: Dict[str, Any]) -> Tuple[Any, ...]:
    """What `wait` compares to decide whether progress changed: execution and task-run states."""
    runs = tuple((r.get("id"), _current_state(r)) for r in execution.get("taskRunList") or [])
    return (_current_state(execution), runs)


def _start_date(execution: Dict[str, Any]) -> Tuple[str, float]:
    """Sort key from an ISO-8601 UTC start date: (seconds part, fraction), because the number
    of fraction digits varies and "…:19Z" must not sort after "…:19.5Z"."""
    state = execution.get("state") or {}
    histories = state.get("histories") or [{}]
    raw = str(state.get("startDate") or (histories[0] or {}).get("date") or "")
    found = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?", raw)
    if not found:
        return (raw, 0.0)
    return (found.group(1), float("0" + (found.group(2) or ".0")))


def _level_rank(level: Any) -> int:
    name = str(level or "").upper()
    return LOG_LEVELS.index(name) if name in LOG_LEVELS else len(LOG_LEVELS)
