"""Shared helpers for the Kestra emulator conformance suite (imported by test modules).

Flows here are hand-written Kestra YAML, never produced by our compiler.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import httpx

from metaflow_orchestrators.emulators.kestra import start

PROCESS = "{type: io.kestra.plugin.core.runner.Process}"
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED"}


class Client:
    """A tiny REST client over the tenant path form, used by the tests."""

    def __init__(self, url: str, auth: Optional[tuple] = None, prefix: str = "/api/v1/main"):
        self.http = httpx.Client(base_url=url, auth=auth, timeout=30)
        self.prefix = prefix

    def close(self) -> None:
        self.http.close()

    def deploy(self, source: str) -> httpx.Response:
        return self.http.post(self.prefix + "/flows", content=source,
                              headers={"Content-Type": "application/x-yaml"})

    def deploy_ok(self, source: str) -> Dict[str, Any]:
        r = self.deploy(source)
        assert r.status_code == 200, r.text
        return r.json()

    def trigger(self, ns: str, flow_id: str, inputs: Optional[Dict[str, str]] = None,
                labels: Optional[List[str]] = None, wait: bool = False) -> httpx.Response:
        params: List[tuple] = [("labels", lab) for lab in labels or []]
        if wait:
            params.append(("wait", "true"))
        files = {k: (None, v) for k, v in (inputs or {}).items()} or None
        return self.http.post("%s/executions/%s/%s" % (self.prefix, ns, flow_id), params=params, files=files)

    def execution(self, execution_id: str) -> Dict[str, Any]:
        r = self.http.get("%s/executions/%s" % (self.prefix, execution_id))
        assert r.status_code == 200, r.text
        return r.json()

    def wait(self, execution_id: str, timeout: float = 20.0, states: Optional[set] = None) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exe = self.execution(execution_id)
            if exe["state"]["current"] in (states or TERMINAL):
                return exe
            time.sleep(0.05)
        raise AssertionError("execution %s did not reach %s in %ss" % (execution_id, states or "terminal", timeout))

    def run(self, ns: str, flow_id: str, inputs: Optional[Dict[str, str]] = None,
            labels: Optional[List[str]] = None) -> Dict[str, Any]:
        r = self.trigger(ns, flow_id, inputs, labels)
        assert r.status_code == 200, r.text
        return self.wait(r.json()["id"])

    def logs(self, execution_id: str, **params: Any) -> List[Dict[str, Any]]:
        r = self.http.get("%s/logs/%s" % (self.prefix, execution_id), params=params)
        assert r.status_code == 200, r.text
        return r.json()


def runs(exe: Dict[str, Any], task_id: str) -> List[Dict[str, Any]]:
    return [t for t in exe["taskRunList"] if t["taskId"] == task_id]


def one(exe: Dict[str, Any], task_id: str) -> Dict[str, Any]:
    found = runs(exe, task_id)
    assert len(found) == 1, (task_id, found)
    return found[0]


def state_of(exe: Dict[str, Any], task_id: str) -> str:
    return one(exe, task_id)["state"]["current"]


def vars_of(exe: Dict[str, Any], task_id: str) -> Dict[str, Any]:
    return one(exe, task_id)["outputs"]["vars"]


def outputs_of(client: Client, exe: Dict[str, Any], task_id: str) -> Dict[str, Any]:
    """A task run's outputs: inline in 1.x, from `GET /outputs/{exec}/{taskRun}` in 2.x."""
    run = one(exe, task_id)
    if "outputs" in run:
        return run["outputs"]
    r = client.http.get("%s/outputs/%s/%s" % (client.prefix, exe["id"], run["id"]))
    assert r.status_code == 200, r.text
    return r.json()


def iterations(client: Client, execution_id: str) -> List[Dict[str, Any]]:
    """2.x Loop iteration sub-executions whose parent is this execution, by iteration index: search
    with `filters[kind][EQUALS]=LOOP` and `filters[parentId][EQUALS]` (iterations are left out of a
    search without a kind filter, jdbc/.../AbstractJdbcExecutionRepository.java@v2.0.0; fields from
    core/io/kestra/core/models/QueryFilter.java@v2.0.0)."""
    r = client.http.get("%s/executions/search" % client.prefix,
                        params={"filters[kind][EQUALS]": "LOOP", "filters[parentId][EQUALS]": execution_id,
                                "size": 1000})
    assert r.status_code == 200, r.text
    found = [client.execution(e["id"]) for e in r.json()["results"]]
    return sorted(found, key=lambda e: e["loopRun"]["index"])


def tree(client: Client, exe: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The execution and, recursively, its Loop iteration sub-executions (2.x)."""
    out = [exe]
    for sub in iterations(client, exe["id"]):
        out.extend(tree(client, sub))
    return out


def tree_runs(client: Client, exe: Dict[str, Any], task_id: str) -> List[Dict[str, Any]]:
    return [t for e in tree(client, exe) for t in e["taskRunList"] if t["taskId"] == task_id]


def tree_messages(client: Client, exe: Dict[str, Any], task_id: Optional[str] = None) -> List[str]:
    return [m for e in tree(client, exe) for m in messages(client, e["id"], task_id)]


def messages(client: Client, execution_id: str, task_id: Optional[str] = None) -> List[str]:
    params = {"taskId": task_id} if task_id else {}
    return [e["message"] for e in client.logs(execution_id, **params)]


class Emulator:
    """A started emulator plus a client (one per test module)."""

    def __init__(self, version: int, tmp_dir: str, auth: Optional[tuple] = None):
        user, pwd = auth if auth else (None, None)
        self.server = start(version=version, username=user, password=pwd, workdir=tmp_dir)
        self.client = Client(self.server.url, auth=auth)
        self.url = self.server.url
        self.engine = self.server.engine

    def close(self) -> None:
        self.client.close()
        self.server.stop()


def flow(flow_id: str, body: str, namespace: str = "conformance") -> str:
    """A flow document: header + indented body (the body is literal Kestra YAML)."""
    return "id: %s\nnamespace: %s\n%s" % (flow_id, namespace, body)
