"""Windmill's side of the engine contract (``..engine.Engine``): its options, how a plan
becomes a deployed Windmill flow (and schedule), and how jobs are started, followed and
stopped."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from metaflow._vendor import click

from ..engine import (Deployed, DeploymentFacts, Engine, Failure, RunSummary, StepState, check_owner, deploy_options,
                      setting)
from . import compiler
from .client import STATUS, WindmillClient, job_state
from ..runtime.resume import RUN_ARG, ResumeRequest
from .inputs import typed_args

_CONNECTION_KEYS = ("host", "token", "workspace", "folder")
_PARAM_TYPES = {"integer": "int", "number": "float", "boolean": "bool", "string": "str", "object": "JSON",
                "INT": "int", "FLOAT": "float", "BOOL": "bool", "STRING": "str", "JSON": "JSON"}


@dataclass(frozen=True)
class Connection:
    """How to reach Windmill and where flows go. Never serialised (it holds the token)."""

    host: str
    token: Optional[str] = None
    workspace: str = "admins"
    folder: str = "metaflow"

    def client(self) -> WindmillClient:
        return WindmillClient(self.host, token=self.token, workspace=self.workspace)

    def __repr__(self) -> str:
        return "Connection(host=%r, workspace=%r, folder=%r)" % (self.host, self.workspace, self.folder)


def connection(host=None, token=None, workspace=None, folder=None) -> Connection:
    """Options first, then the environment as it is now, then the Metaflow config."""
    return Connection(host=(setting(host, "WINDMILL_HOST") or "http://localhost:8000").rstrip("/"),
                      token=setting(token, "WINDMILL_TOKEN"),
                      workspace=setting(workspace, "WINDMILL_WORKSPACE") or "admins",
                      folder=compiler.check_folder(setting(folder, "WINDMILL_FOLDER") or "metaflow"))


class WindmillEngine(Engine):
    name = "windmill"
    title = "Windmill"
    run_noun = "job"
    capabilities = compiler.CAPABILITIES

    # ---- options ---------------------------------------------------------------------------
    def connection_options(self) -> List[Callable]:
        return [
            click.option("--windmill-host", default=None,
                         help="Windmill URL (env WINDMILL_HOST, default http://localhost:8000)."),
            click.option("--windmill-token", default=None, show_default=False,
                         help="API token (env WINDMILL_TOKEN; prefer the variable: options show in process lists)."),
            click.option("--windmill-workspace", default=None, help="Workspace (env WINDMILL_WORKSPACE, default admins)."),
            click.option("--windmill-folder", default=None,
                         help="Folder of the flows, f/<folder>/... (env WINDMILL_FOLDER, default metaflow)."),
        ]

    def name_option(self) -> Callable:
        return click.option("--name", default=None,
                            help="Flow name under the folder (default: the flow name, project-aware).")

    def compile_options(self) -> List[Callable]:
        return [click.option("--windmill-folder", default=None,
                             help="Folder of the flows, f/<folder>/... (env WINDMILL_FOLDER, default metaflow).")]

    # ---- connection ------------------------------------------------------------------------
    def connection(self, kw: Mapping[str, Any]) -> Connection:
        return connection(*(kw.get("windmill_" + key) for key in _CONNECTION_KEYS))

    def connection_from(self, kwargs: Mapping[str, Any], env: Mapping[str, str]) -> Connection:
        return connection(*(kwargs.get("windmill_" + key) or env.get("WINDMILL_" + key.upper())
                            for key in _CONNECTION_KEYS))

    def deployer_connection_kwargs(self, conn: Connection, namespace: Optional[str] = None) -> Dict[str, Any]:
        return {"windmill_host": conn.host, "windmill_token": conn.token, "windmill_workspace": conn.workspace,
                "windmill_folder": conn.folder}

    # ---- deployments -----------------------------------------------------------------------
    def deployment_name(self, plan, name: Optional[str]) -> str:
        """The flow path: ``f/<folder>/<name>``; ``--name`` may also be a whole ``f/...`` path."""
        return self.path_of(plan, name, connection(folder=None).folder)

    def path_of(self, plan, name: Optional[str], folder: str) -> str:
        if name and name.startswith("f/"):
            return compiler.check_path(name)
        deployed = name or (plan.project.flow_name if plan.project else plan.flow_name)
        return compiler.flow_path(deployed, folder)

    def _document(self, obj, plan, kw: Mapping[str, Any], conn: Connection):
        path = self.path_of(plan, kw.get("name"), conn.folder)
        options = deploy_options(self.name, obj, plan, kw.get("tags") or (), kw.get("user_namespace"),
                                 kw.get("code_package", False))
        target = compiler.WindmillTarget(workspace=conn.workspace, path=path,
                                         max_workers=kw.get("max_workers") or 10,
                                         workflow_timeout=kw.get("workflow_timeout"),
                                         python=kw.get("worker_python") or "python3")
        return compiler.compile_flow(plan, options, target), compiler.schedule_of(plan, target), target

    def compile_text(self, obj, plan, kw: Mapping[str, Any]) -> str:
        doc, _, _ = self._document(obj, plan, kw, connection(folder=kw.get("windmill_folder")))
        return compiler.dump(doc)

    def deploy(self, obj, plan, kw: Mapping[str, Any], client: WindmillClient, conn: Connection) -> Deployed:
        doc, schedule, target = self._document(obj, plan, kw, conn)
        existing = client.get_flow(target.path)
        if existing is not None:  # the deployment facts kept with the first module record whose it is
            check_owner((compiler.deployment_facts(existing) or {}).get("flow_name"), plan.flow_name,
                        "Windmill flow %s in workspace %s" % (target.path, conn.workspace))
        else:  # a flow there means its folder exists
            client.ensure_folder(target.path.split("/")[1])
        if not compiler.same_flow(existing, doc):  # unchanged: no request, no new version of the flow
            client.upsert_flow(doc, exists=existing is not None)
        notes: List[Tuple[str, Optional[str]]] = []
        schedule_path = compiler.schedule_path(target.path)
        if schedule is not None:
            client.upsert_schedule(schedule)
            notes.append(("Scheduled as %s (%s, %s)." % (schedule["path"], schedule["schedule"],
                                                          schedule["timezone"]), None))
        elif client.delete_schedule(schedule_path):
            notes.append(("Removed the schedule %s: the flow has no @schedule any more." % schedule_path, None))
        return Deployed(name=target.path, flow_name=plan.flow_name,
                        where="Windmill workspace %s as %s" % (conn.workspace, target.path),
                        info={"workspace": conn.workspace, "path": target.path}, notes=tuple(notes))

    def delete(self, client: WindmillClient, conn: Connection, name: str) -> None:
        client.delete_schedule(compiler.schedule_path(name))
        client.delete_flow(name)

    def list_deployments(self, client: WindmillClient, conn: Connection, flow_name: Optional[str]) -> List[str]:
        found = []
        for flow in client.list_flows("f/%s/" % conn.folder):
            full = client.get_flow(flow["path"]) or {}
            facts = compiler.deployment_facts(full)
            if facts and (flow_name is None or facts.get("flow_name") == flow_name):
                found.append(flow["path"])
        return found

    def describe_deployment(self, client: WindmillClient, conn: Connection, identifier: str) -> DeploymentFacts:
        path = identifier if identifier.startswith("f/") else compiler.flow_path(identifier, conn.folder)
        flow = client.get_flow(path)
        if flow is None:
            raise LookupError("no Windmill flow %s in workspace %s" % (path, conn.workspace))
        facts = compiler.deployment_facts(flow) or {}
        schema = flow.get("schema") or {}
        required = set(schema.get("required") or [])
        params = {}
        for name, prop in (schema.get("properties") or {}).items():
            if name in (facts.get("internal_inputs") or ()):
                continue
            declared = (facts.get("params") or {}).get(name)
            params[name] = {"type": _PARAM_TYPES.get(declared or prop.get("type"), "str"),
                            "description": prop.get("description"),
                            "is_required": name in required and "default" not in prop}
        return DeploymentFacts(name=path, flow_name=facts.get("flow_name") or path.rsplit("/", 1)[-1],
                               params=params, project=facts.get("project"), branch=facts.get("branch"),
                               owner=facts.get("owner"), connection_kwargs=self.deployer_connection_kwargs(conn))

    # ---- events ----------------------------------------------------------------------------
    def publish_event(self, client: WindmillClient, conn: Connection, event: str,
                      payload: Dict[str, Any]) -> List[Tuple[str, str]]:
        """Windmill has no event bus: every flow of the folder deployed with
        ``@trigger(event=...)`` on this event is started with the payload as its
        ``metaflow_event`` input (the launcher maps payload fields to parameters)."""
        started = []
        for flow in client.list_flows("f/%s/" % conn.folder):
            facts = compiler.deployment_facts(client.get_flow(flow["path"]) or {}) or {}
            if event in (facts.get("events") or ()):
                started.append((flow["path"], client.run_flow(flow["path"], {compiler.EVENT_INPUT: payload})))
        return started

    def event_scope(self, conn: Connection) -> str:
        return "Windmill folder f/%s/ (workspace %s)" % (conn.folder, conn.workspace)

    # ---- runs ------------------------------------------------------------------------------
    def start(self, client: WindmillClient, conn: Connection, name: str, inputs: Dict[str, Any],
              resume: Optional[ResumeRequest] = None) -> str:
        flow = client.get_flow(name)
        if flow is None:
            raise ValueError("no Windmill flow %s in workspace %s: deploy it with `create` first"
                             % (name, conn.workspace))
        args = typed_args(flow, inputs)
        if resume is not None:
            # One run argument outside the flow's schema (so never in its run form); the init
            # reads it with the rest of the flow's input. The run's Args show it.
            args[RUN_ARG] = resume.labels()
        return client.run_flow(name, args)

    def ui_url(self, client: WindmillClient, conn: Connection, name: str, engine_run_id: str) -> str:
        return client.ui_url(engine_run_id)

    def get_run(self, client: WindmillClient, engine_run_id: str) -> Dict[str, Any]:
        return client.get_job(engine_run_id)

    def state_of(self, run: Mapping[str, Any]) -> str:
        return job_state(dict(run))

    def status_of(self, run: Mapping[str, Any]) -> str:
        return STATUS[job_state(dict(run))]

    def wait(self, client: WindmillClient, engine_run_id: str, max_wait: Optional[float], poll: float,
             on_update=None, closing=None) -> Dict[str, Any]:
        return client.wait(engine_run_id, max_wait=max_wait, poll=poll, on_update=on_update, closing=closing)

    def step_states(self, client: WindmillClient, run: Mapping[str, Any]) -> List[StepState]:
        # A retried module lists its failed attempts' jobs (`failed_retries`, flows.rs).
        return [StepState(_label(compiler.step_of(module["id"]), position), _module_state(module),
                          len(module.get("failed_retries") or ()) + 1)
                for position, module, _ in client.flow_jobs(dict(run)) if compiler.is_step_module(module["id"])]

    def failures(self, client: WindmillClient, run: Mapping[str, Any]) -> List[Failure]:
        out = []
        for position, module, job in client.flow_jobs(dict(run)):
            if module.get("type") == "Failure" and compiler.is_step_module(module["id"]):
                lines = client.job_logs(job["id"]).splitlines()
                out.append(Failure(_label(compiler.step_of(module["id"]), position), tuple(lines)))
        return out

    def list_runs(self, client: WindmillClient, conn: Connection, name: str, limit: int) -> List[RunSummary]:
        return [RunSummary(self.run_id(job["id"]), STATUS[job_state(job)], str(job.get("started_at") or
                                                                                job.get("created_at") or ""))
                for job in client.list_flow_jobs(name, limit)]

    def terminate(self, client: WindmillClient, engine_run_id: str) -> None:
        job = client.get_job(engine_run_id)
        if job.get("type") != "CompletedJob":
            client.cancel(engine_run_id)

    def logs(self, client: WindmillClient, engine_run_id: str, step: Optional[str]) -> Iterable[Tuple[str, str]]:
        job = client.get_job(engine_run_id)
        for position, module, module_job in client.flow_jobs(job):
            name = compiler.step_of(module["id"])
            if name is None or (step and name != step):
                continue
            label = _label(name, position)
            for line in client.job_logs(module_job["id"]).splitlines():
                yield label, line


def _label(step: str, position: str) -> str:
    return "%s [%s]" % (step, position) if position else step


def _module_state(module: Mapping[str, Any]) -> str:
    """Windmill's module status words, as its UI shows them."""
    return {"InProgress": "RUNNING", "Success": "SUCCESS", "Failure": "FAILED",
            "WaitingForExecutor": "QUEUED", "WaitingForEvents": "WAITING"}.get(module.get("type"), str(module.get("type")))


ENGINE = WindmillEngine()
