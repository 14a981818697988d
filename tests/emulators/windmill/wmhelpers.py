"""Client and OpenFlow builders for the Windmill emulator conformance suite (hand-written flows)."""
from __future__ import annotations

import itertools
import os
import time
from typing import Any, Dict, List, Optional

import httpx

TOKEN = "test-token"
WORKSPACE = "test"
_counter = itertools.count()


class Windmill:
    """A thin client over the emulator's REST API, as a Windmill client would call it."""

    def __init__(self, url: str, token: str = TOKEN, workspace: str = WORKSPACE) -> None:
        self.url = url
        self.workspace = workspace
        self.http = httpx.Client(base_url=url + "/api", headers={"Authorization": "Bearer " + token},
                                 timeout=60)

    def w(self, suffix: str) -> str:
        return "/w/%s/%s" % (self.workspace, suffix)

    def ensure_folder(self, name: str) -> None:
        """`f/<folder>/...` paths need the folder on a real server."""
        if self.http.get(self.w("folders/exists/" + name)).json() is not True:
            response = self.http.post(self.w("folders/create"), json={"name": name})
            assert response.status_code in (200, 201), response.text

    @staticmethod
    def unique_path(name: str = "flow") -> str:
        """A fresh `f/tests/...` path (a real server keeps flows from earlier runs)."""
        return "f/tests/%s_%d_%d_%d" % (name, os.getpid(), int(time.time() * 1000) % 10000000, next(_counter))

    def create_flow(self, value: Dict[str, Any], path: Optional[str] = None, **extra: Any) -> str:
        path = path or self.unique_path()
        body = {"path": path, "summary": "test flow", "value": value}
        body.update(extra)
        response = self.http.post(self.w("flows/create"), json=body)
        assert response.status_code == 201, response.text
        return path

    def run(self, path: str, args: Optional[Dict[str, Any]] = None, **params: Any) -> str:
        response = self.http.post(self.w("jobs/run/f/" + path), json=args or {}, params=params)
        assert response.status_code == 201, response.text
        return response.text

    def job(self, job_id: str) -> Dict[str, Any]:
        response = self.http.get(self.w("jobs_u/get/" + job_id))
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, job_id: str, timeout: float = 30.0) -> Dict[str, Any]:
        """Poll until the job is a CompletedJob (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["type"] == "CompletedJob":
                return job
            time.sleep(0.05)
        raise AssertionError("job %s did not complete within %ss" % (job_id, timeout))

    def run_preview(self, value: Dict[str, Any], args: Optional[Dict[str, Any]] = None,
                    timeout: float = 30.0) -> Dict[str, Any]:
        """Run an unsaved flow (`jobs/run/preview_flow`): its value is never re-serialized."""
        response = self.http.post(self.w("jobs/run/preview_flow"), json={"value": value, "args": args or {}})
        assert response.status_code == 201, response.text
        return self.wait(response.text, timeout)

    def run_flow(self, value: Dict[str, Any], args: Optional[Dict[str, Any]] = None,
                 timeout: float = 30.0) -> Dict[str, Any]:
        """Create a flow, run it, wait for it: the completed job."""
        return self.wait(self.run(self.create_flow(value), args), timeout)


# ---- tiny module builders (hand-written OpenFlow, not produced by any compiler) ----------------
def static(value: Any) -> Dict[str, Any]:
    return {"type": "static", "value": value}


def js(expr: str) -> Dict[str, Any]:
    return {"type": "javascript", "expr": expr}


def bash(module_id: str, content: str, **transforms: Any) -> Dict[str, Any]:
    return {"id": module_id, "value": {"type": "rawscript", "language": "bash", "content": content,
                                       "input_transforms": transforms}}


def python(module_id: str, content: str, **transforms: Any) -> Dict[str, Any]:
    return {"id": module_id, "value": {"type": "rawscript", "language": "python3", "content": content,
                                       "input_transforms": transforms}}


def flow(*modules: Dict[str, Any], **extra: Any) -> Dict[str, Any]:
    value: Dict[str, Any] = {"modules": list(modules)}
    value.update(extra)
    return value


def forloop(module_id: str, iterator: Dict[str, Any], modules: List[Dict[str, Any]], **extra: Any) -> Dict[str, Any]:
    value = {"type": "forloopflow", "iterator": iterator, "modules": modules}
    value.update(extra)
    return {"id": module_id, "value": value}


def echo(module_id: str, expr: str) -> Dict[str, Any]:
    """A bash step whose result is the string of one JS expression."""
    return bash(module_id, 'V="$1"\necho "$V"', V=js(expr))


def emit_json(module_id: str, expr: str) -> Dict[str, Any]:
    """A bash step whose result is the JSON value of one JS expression (via result.json)."""
    return bash(module_id, 'V="$1"\nprintf "%s" "$V" > result.json', V=js("JSON.stringify(%s)" % expr))
