"""A small, explicit REST client for Windmill (reference: windmill.md §11–13, errata 7, 9).

Windmill answers many endpoints with ``text/plain`` (a job id, a flow path), so those are
read as text. Errors are the shared tree of ``..rest`` (one line, status code kept, never
the token). Only GETs are retried: a retried ``jobs/run`` could start the flow twice.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote

if TYPE_CHECKING:  # imported where a client is made: `compile` never connects and skips it (~30 ms)
    import httpx

from ..rest import EngineError, EngineNotFound, RestClient

_JSON = {"Content-Type": "application/json"}

OnUpdate = Callable[[Dict[str, Any]], None]


class WindmillClient(RestClient):
    """Windmill REST API client for one workspace, authenticated by a bearer token."""

    ENGINE = "Windmill"
    HOST_HINT = "is it running? Set --windmill-host or WINDMILL_HOST"
    CREDENTIALS_HINT = "check WINDMILL_TOKEN (or --windmill-token)"

    def __init__(self, host: str, token: Optional[str] = None, workspace: str = "admins", timeout: float = 30.0,
                 retries: int = 3, transport: Optional[httpx.BaseTransport] = None):
        headers = {"Authorization": "Bearer %s" % token} if token else {}
        super().__init__(host.strip().rstrip("/"), headers=headers, secrets=(token,),
                         auth_desc="token" if token else "no credentials", timeout=timeout, retries=retries,
                         transport=transport)
        self.workspace = workspace

    def __repr__(self) -> str:
        return "WindmillClient(host=%r, auth=%s, workspace=%r)" % (self.host, self._auth_desc, self.workspace)

    def _w(self, *parts: str) -> str:
        """``/api/w/{workspace}/part/part``; flow paths keep their slashes."""
        return "/api/w/%s/%s" % (quote(self.workspace, safe=""), "/".join(quote(p, safe="/") for p in parts))

    def error_messages(self, response: httpx.Response) -> List[str]:
        # Windmill errors are plain text ("Not found: ...", "Bad request: ...").
        text = response.text.strip()
        return [text.splitlines()[0]] if text else []

    @staticmethod
    def _text(response: httpx.Response) -> str:
        return response.text.strip().strip('"')

    # ---- server --------------------------------------------------------------------------
    def version(self) -> str:
        return self._text(self._send("GET", "/api/version", "the server version"))

    # ---- folders and flows ---------------------------------------------------------------
    def ensure_folder(self, name: str) -> None:
        """Flows live under ``f/<folder>/``; the folder must exist first."""
        if not self._json(self._send("GET", self._w("folders", "exists", name), "folder %s" % name)):
            self._send("POST", self._w("folders", "create"), "folder %s" % name, json={"name": name})

    def flow_exists(self, path: str) -> bool:
        return bool(self._json(self._send("GET", self._w("flows", "exists", path), "flow %s" % path)))

    def get_flow(self, path: str) -> Optional[Dict[str, Any]]:
        try:
            return self._json(self._send("GET", self._w("flows", "get", path), "flow %s" % path))
        except EngineNotFound:
            return None

    def upsert_flow(self, doc: Dict[str, Any], exists: Optional[bool] = None) -> None:
        """Create, or update with the whole document (``path`` in the body: 1.743 needs it);
        ``exists``: asked when the caller does not know."""
        path = doc["path"]
        if self.flow_exists(path) if exists is None else exists:
            self._send("POST", self._w("flows", "update", path), "flow %s" % path, json=doc, headers=_JSON)
        else:
            self._send("POST", self._w("flows", "create"), "flow %s" % path, json=doc, headers=_JSON)

    def delete_flow(self, path: str) -> None:
        self._send("DELETE", self._w("flows", "delete", path), "flow %s" % path)

    def list_flows(self, path_start: str, per_page: int = 1000) -> List[Dict[str, Any]]:
        body = self._json(self._send("GET", self._w("flows", "list"), "flows under %s" % path_start,
                                     params={"path_start": path_start, "per_page": per_page}))
        return [f for f in body or [] if isinstance(f, dict)]

    # ---- schedules -------------------------------------------------------------------------
    def upsert_schedule(self, schedule: Dict[str, Any]) -> None:
        """Create, or update with the whole object: an update clears fields it omits (errata 7)."""
        path = schedule["path"]
        subject = "schedule %s" % path
        if self._json(self._send("GET", self._w("schedules", "exists", path), subject)):
            edit = {k: v for k, v in schedule.items() if k not in ("path", "script_path", "is_flow", "enabled")}
            self._send("POST", self._w("schedules", "update", path), subject, json=edit, headers=_JSON)
            self._send("POST", self._w("schedules", "setenabled", path), subject,
                       json={"enabled": schedule.get("enabled", True)}, headers=_JSON)
        else:
            self._send("POST", self._w("schedules", "create"), subject, json=schedule, headers=_JSON)

    def get_schedule(self, path: str) -> Optional[Dict[str, Any]]:
        try:
            return self._json(self._send("GET", self._w("schedules", "get", path), "schedule %s" % path))
        except EngineNotFound:
            return None

    def delete_schedule(self, path: str) -> bool:
        try:
            self._send("DELETE", self._w("schedules", "delete", path), "schedule %s" % path)
        except EngineNotFound:
            return False
        return True

    # ---- jobs ------------------------------------------------------------------------------
    def run_flow(self, path: str, args: Dict[str, Any]) -> str:
        """Start the flow; returns the job id. Args are the JSON body, as typed values."""
        return self._text(self._send("POST", self._w("jobs", "run", "f", path), "flow %s" % path,
                                     json=args, headers=_JSON))

    def get_job(self, job_id: str) -> Dict[str, Any]:
        return self._json(self._send("GET", self._w("jobs_u", "get", job_id), "job %s" % job_id,
                                     params={"no_logs": "true"}))

    def job_logs(self, job_id: str) -> str:
        return self._send("GET", self._w("jobs_u", "get_logs", job_id), "the logs of job %s" % job_id).text

    def cancel(self, job_id: str, reason: str = "terminated from Metaflow") -> None:
        """Cancel a queued or running job; the body is required (errata 9)."""
        self._send("POST", self._w("jobs_u", "queue", "cancel", job_id), "job %s" % job_id,
                   json={"reason": reason}, headers=_JSON)

    def list_flow_jobs(self, path: str, limit: int = 25) -> List[Dict[str, Any]]:
        """The flow's root jobs, newest first (sorted here as well)."""
        body = self._json(self._send("GET", self._w("jobs", "list"), "the jobs of flow %s" % path,
                                     params={"script_path_exact": path, "job_kinds": "flow",
                                             "has_null_parent": "true", "per_page": max(int(limit), 1)}))
        jobs = [j for j in body or [] if isinstance(j, dict)]
        return sorted(jobs, key=lambda j: str(j.get("created_at") or ""), reverse=True)[:limit]

    def wait(self, job_id: str, max_wait: Optional[float] = None, poll: float = 1.0,
             on_update: Optional[OnUpdate] = None, closing: Optional[Callable[[], bool]] = None) -> Dict[str, Any]:
        """Poll until the job completed; ``on_update(job)`` whenever its flow status changed."""
        return self._follow(lambda: self.get_job(job_id), lambda job: job.get("type") == "CompletedJob",
                            _fingerprint, max_wait, poll, on_update,
                            lambda job: "job %s did not end within %gs; it keeps running on Windmill; see %s"
                            % (job_id, max_wait or 0, self.ui_url(job_id)), closing)

    def flow_jobs(self, job: Dict[str, Any], label: str = "") -> Iterator[Tuple[str, Dict[str, Any], Dict[str, Any]]]:
        """(position label, module status, module job) for every module job of a flow job,
        loops and branches included (their iterations are sub-flow jobs, read here)."""
        for module in ((job.get("flow_status") or {}).get("modules") or []):
            sub_jobs = module.get("flow_jobs") or []
            if sub_jobs:
                for index, sub_id in enumerate(sub_jobs):
                    try:
                        sub = self.get_job(sub_id)
                    except EngineError:
                        continue
                    yield from self.flow_jobs(sub, "%s%s%d" % (label, "." if label else "", index))
            elif module.get("job") and module.get("type") not in ("WaitingForPriorSteps", None):
                yield label, module, {"id": module["job"]}

    def ui_url(self, job_id: str) -> str:
        return "%s/run/%s?workspace=%s" % (self.host, quote(job_id, safe=""), quote(self.workspace, safe=""))


def job_state(job: Dict[str, Any]) -> str:
    """A job's state in the words Windmill's UI shows (windmill.md §11: a completed job's
    ``success``/``canceled``, a queued one's ``running``), upper case as the CLI prints
    every engine's states."""
    if job.get("type") == "CompletedJob":
        if job.get("canceled"):
            return "CANCELED"
        return "SUCCESS" if job.get("success") else "FAILURE"
    return "RUNNING" if job.get("running") else "QUEUED"


STATUS = {"QUEUED": "PENDING", "RUNNING": "RUNNING", "SUCCESS": "SUCCEEDED", "FAILURE": "FAILED",
          "CANCELED": "ABORTED"}


def _fingerprint(job: Dict[str, Any]) -> Tuple[Any, ...]:
    modules = ((job.get("flow_status") or {}).get("modules") or [])
    return (job_state(job), tuple((m.get("id"), m.get("type"), len(m.get("flow_jobs") or [])) for m in modules))
