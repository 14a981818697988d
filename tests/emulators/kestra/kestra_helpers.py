"""Shared helpers for the Kestra emulator conformance suite (imported by test modules).

Flows here are hand-written Kestra YAML, never produced by our compiler.

Target: the emulator by default. With ``KESTRA_HOST`` set (plus ``KESTRA_USER``/``KESTRA_PASSWORD``)
the same tests run against that real server instead; its major version comes from
``GET /api/v1/configs`` and a module asking for the other major version is skipped. A test that needs
the emulator's internals reads ``target.engine``, which skips it on a real server; tests marked
``emulator_internals`` are skipped there up front. A session fixture starting a real engine can plug
in through ``use_real_server(url, user, password)`` (or by setting the environment variables).
"""
from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional

import httpx
import pytest

from metaflow_orchestrators.emulators.kestra import start

PROCESS = "{type: io.kestra.plugin.core.runner.Process}"
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED"}


class Client:
    """A tiny REST client over the tenant path form, used by the tests."""

    def __init__(self, url: str, auth: Optional[tuple] = None, prefix: str = "/api/v1/main"):
        self.http = httpx.Client(base_url=url, auth=auth, timeout=30)
        self.prefix = prefix
        # A real Kestra stores logs asynchronously (worker -> log queue -> repository/indexer): right
        # after an execution ended its last lines may not be readable yet. `settle` re-reads until
        # two reads agree (the emulator stores them synchronously).
        self.settle = False

    def close(self) -> None:
        self.http.close()

    def deploy(self, source: str) -> httpx.Response:
        return self.http.post(self.prefix + "/flows", content=source,
                              headers={"Content-Type": "application/x-yaml"})

    def deploy_ok(self, source: str) -> Dict[str, Any]:
        r = self.deploy(source)
        if r.status_code == 422 and "already exists" in r.text:
            # a real server keeps flows between runs: update it instead
            import yaml
            doc = yaml.safe_load(source)
            r = self.http.put("%s/flows/%s/%s" % (self.prefix, doc["namespace"], doc["id"]), content=source,
                              headers={"Content-Type": "application/x-yaml"})
        assert r.status_code == 200, r.text
        return r.json()

    def restart_and_wait(self, execution_id: str, version: int, timeout: float = 20.0) -> Dict[str, Any]:
        """Restart (1.x `/restart`, 2.x `/actions/restart`) and wait until the restarted run ends."""
        before = self.execution(execution_id)["state"]["histories"]
        path = "%s/executions/%s/%srestart" % (self.prefix, execution_id, "actions/" if version >= 2 else "")
        r = self.http.post(path)
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exe = self.execution(execution_id)
            hist = exe["state"]["histories"]
            if len(hist) > len(before) and "RESTARTED" in [h["state"] for h in hist[len(before) - 1:]] \
                    and exe["state"]["current"] in TERMINAL:
                return exe
            time.sleep(0.05)
        raise AssertionError("restarted execution %s did not end in %ss" % (execution_id, timeout))

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

    def logs_now(self, execution_id: str, **params: Any) -> List[Dict[str, Any]]:
        """The execution's log entries as stored at this moment (no settling)."""
        r = self.http.get("%s/logs/%s" % (self.prefix, execution_id), params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def logs(self, execution_id: str, **params: Any) -> List[Dict[str, Any]]:
        entries = self.logs_now(execution_id, **params)
        deadline = time.monotonic() + 5
        while self.settle and time.monotonic() < deadline:
            time.sleep(0.3)
            again = self.logs_now(execution_id, **params)
            if len(again) == len(entries) and (entries or time.monotonic() > deadline - 4):
                return again
            entries = again
        return entries


def error_text(response: httpx.Response) -> str:
    """An error body's message: 1.x Micronaut JsonError `message`, 2.x RFC 9457 `detail`."""
    body = response.json()
    return body.get("message") or body.get("detail") or ""


def runs(exe: Dict[str, Any], task_id: str) -> List[Dict[str, Any]]:
    # Kestra omits taskRunList (null) until the first task run is created.
    return [t for t in exe.get("taskRunList") or [] if t["taskId"] == task_id]


STARTED = "task-process-started"  # what a killable test task prints first (wait_task_running)


def wait_task_running(client: "Client", execution_id: str, task_id: str, timeout: float = 10.0) -> None:
    """Wait until the task's one run is RUNNING and its process printed ``STARTED``, so that a
    kill reaches that process.

    A real worker emits the RUNNING attempt just before it registers the callable a kill reaches;
    a kill that lands between its `killedExecution` check and that registration is missed and the
    task runs to its end (worker/.../DefaultWorker.java@v1.3.25 `run`, `callJob`). RUNNING alone
    was not enough once requests stopped taking ~40 ms each: the process's first line comes after
    the registration."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [t["state"]["current"] for t in runs(client.execution(execution_id), task_id)] == ["RUNNING"]
        if running and any(STARTED in str(e.get("message"))
                           for e in client.logs_now(execution_id) if e.get("taskId") == task_id):
            return
        time.sleep(0.05)
    raise AssertionError("task %s of execution %s did not start running in %ss" % (task_id, execution_id, timeout))


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
    if run.get("outputs") is not None:  # 2.x task runs carry "outputs": null
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
    return [t for e in tree(client, exe) for t in e.get("taskRunList") or [] if t["taskId"] == task_id]


def tree_messages(client: Client, exe: Dict[str, Any], task_id: Optional[str] = None) -> List[str]:
    return [m for e in tree(client, exe) for m in messages(client, e["id"], task_id)]


USER_LEVELS = ("INFO", "WARN", "ERROR")


def messages(client: Client, execution_id: str, task_id: Optional[str] = None,
             levels: tuple = USER_LEVELS) -> List[str]:
    """Log messages at INFO and above: what the task said. Kestra also stores its own DEBUG/TRACE
    lines (task runner, pid, input/output file counts, stack traces), checked on their own in
    test_kestra_scripts.py::test_process_runner_engine_lines; pass ``levels`` to see them."""
    params = {"taskId": task_id} if task_id else {}
    return [e["message"] for e in client.logs(execution_id, **params) if e.get("level") in levels]


_REAL: Dict[str, Optional[str]] = {}


def use_real_server(url: str, user: Optional[str] = None, password: Optional[str] = None) -> None:
    """Point the suite at a real Kestra (for a session fixture that starts one)."""
    _REAL.update(url=url, user=user, password=password)


def real_server() -> Optional[Dict[str, Optional[str]]]:
    if _REAL.get("url"):
        return dict(_REAL)
    host = os.environ.get("KESTRA_HOST")
    if host:
        return {"url": host, "user": os.environ.get("KESTRA_USER"), "password": os.environ.get("KESTRA_PASSWORD")}
    return None


class LocalEmulator:
    """A started emulator plus a client (one per test module)."""

    real = False

    def __init__(self, version: int, tmp_dir: str, auth: Optional[tuple] = None):
        user, pwd = auth if auth else (None, None)
        self.server = start(version=version, username=user, password=pwd, workdir=tmp_dir)
        self.auth = auth  # the credentials the server enforces (None: open)
        self.client = Client(self.server.url, auth=auth)
        self.url = self.server.url
        self.engine = self.server.engine
        self.version = version

    def close(self) -> None:
        self.client.close()
        self.server.stop()


class RealServer:
    """A real Kestra at KESTRA_HOST, with the same surface as LocalEmulator minus the internals."""

    real = True

    def __init__(self, version: int, info: Dict[str, Optional[str]]):
        auth = (info["user"], info["password"]) if info.get("user") else None
        self.auth = auth  # the real server's own credentials, whatever a module asked for
        self.url = str(info["url"]).rstrip("/")
        self.client = Client(self.url, auth=auth)
        self.client.settle = True
        r = self.client.http.get("/api/v1/configs")
        assert r.status_code == 200, r.text
        self.server_version = r.json()["version"]
        self.version = int(self.server_version.split(".")[0])
        if self.version != version:
            self.client.close()
            pytest.skip("KESTRA_HOST runs Kestra %s, this module targets %d.x" % (self.server_version, version))

    @property
    def engine(self) -> Any:
        pytest.skip("needs the emulator's internals; KESTRA_HOST is a real server")

    def close(self) -> None:
        self.client.close()


def Emulator(version: int, tmp_dir: str, auth: Optional[tuple] = None) -> Any:  # noqa: N802 - kept name
    """The conformance target for ``version``: the emulator, or the real server named by KESTRA_HOST."""
    info = real_server()
    if info is not None:
        return RealServer(version, info)
    return LocalEmulator(version, tmp_dir, auth)


def flow(flow_id: str, body: str, namespace: str = "conformance") -> str:
    """A flow document: header + indented body (the body is literal Kestra YAML)."""
    return "id: %s\nnamespace: %s\n%s" % (flow_id, namespace, body)
