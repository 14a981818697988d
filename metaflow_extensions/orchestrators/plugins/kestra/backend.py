"""Kestra's side of the engine contract (``..engine.Engine``): its options, how a plan
becomes a deployed Kestra flow, and how executions are started, followed and stopped."""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from metaflow._vendor import click

from ..cli_common import record_run
from ..engine import Deployed, DeploymentFacts, Engine, Failure, RunSummary, StepState, check_owner
from . import deployment as dep
from . import events
from ..runtime.resume import ResumeRequest
from .compiler import CAPABILITIES, LABEL_WORKFLOW_TIMEOUT, compile_flow, dump

_PARAM_TYPES = {"INT": "int", "FLOAT": "float", "BOOL": "bool", "BOOLEAN": "bool", "STRING": "str", "JSON": "JSON"}
_CONNECTION_KEYS = ("host", "user", "password", "token", "tenant", "namespace")


class KestraEngine(Engine):
    name = "kestra"
    title = "Kestra"
    run_noun = "execution"
    engine_line_prefixes = ("io.kestra.",)  # the worker's own TaskException lines
    capabilities = CAPABILITIES

    # ---- options ---------------------------------------------------------------------------
    def connection_options(self) -> List[Callable]:
        return [
            click.option("--kestra-host", default=None, help="Kestra URL (env KESTRA_HOST, default http://localhost:8080)."),
            click.option("--kestra-user", default=None, help="Basic-auth user (env KESTRA_USER)."),
            click.option("--kestra-password", default=None, show_default=False,
                         help="Basic-auth password (env KESTRA_PASSWORD; prefer the variable: options show in process lists)."),
            click.option("--kestra-token", default=None, show_default=False, help="Enterprise API token (env KESTRA_TOKEN)."),
            click.option("--kestra-tenant", default=None, help="Tenant (env KESTRA_TENANT; default: detected)."),
            _namespace_option(),
        ]

    def name_option(self) -> Callable:
        return click.option("--name", default=None, help="Kestra flow id (default: the flow name, project-aware).")

    def deploy_options(self) -> List[Callable]:
        return [click.option("--task-runner", type=click.Choice(["process", "docker"]), default="process",
                             show_default=True,
                             help="Where tasks run: on the Kestra worker (Process) or in a container of --image "
                                  "(Docker; needs the code package)."),
                click.option("--image", default=None,
                             help="The container image of --task-runner docker: Python 3 with requests "
                                  "(boto3 for S3).")]

    def create_options(self) -> List[Callable]:
        return [click.option("--kestra-version", type=click.Choice(["1", "2"]), default=None,
                             help="Kestra major version (default: asked from the server).")]

    def compile_options(self) -> List[Callable]:
        return [click.option("--kestra-version", type=click.Choice(["1", "2"]), default="2", show_default=True,
                             help="Kestra major version to target."), _namespace_option()]

    # ---- resume ----------------------------------------------------------------------------
    def resume_options(self) -> List[Callable]:
        return [click.option("--in-place", is_flag=True, default=False,
                             help="Instead of a new run, restart the origin execution itself (Kestra restart): "
                                  "its failed steps run again as their next attempt in the same Metaflow run.")]

    def resume_in_place_requested(self, kw: Dict[str, Any]) -> bool:
        return bool(kw.pop("in_place", False))

    def resume_in_place(self, obj, commands, origin_run_id: str, kw: Dict[str, Any]) -> None:
        """Kestra's restart of the execution: same execution and run id, the failed task runs
        re-run as their next attempt (a step whose retries were exhausted runs the user's code
        again: launcher.user_code_retries). Refused, in one line, where Kestra would refuse."""
        if kw.get("step") or commands.inputs(obj, kw):
            raise ValueError("--in-place restarts the failed steps with the run's own parameters: "
                             "it takes no --step and no parameter values (resume without --in-place)")
        execution_id = self.engine_run_id(origin_run_id)
        with self.connection(kw).client() as client:
            state = self.state_of(client.get_execution(execution_id))
            refused = in_place_refusal(state, client.major)
            if refused:
                raise ValueError("run %s ended %s: %s; resume without --in-place to start a new run that clones "
                                 "what succeeded" % (origin_run_id, state, refused))
            execution = client.restart(execution_id)
            pathspec = record_run(obj, kw, execution.get("flowId", ""), self.run_id(execution["id"]))
            obj.echo("Run *%s* resumed on Kestra (execution %s restarted in place)." % (pathspec, execution["id"]),
                     bold=True)
            if kw.get("wait"):
                commands.wait(obj, client, execution["id"], kw.get("max_wait"))

    # ---- connection ------------------------------------------------------------------------
    def connection(self, kw: Mapping[str, Any]) -> dep.Connection:
        return dep.connection(*(kw.get("kestra_" + key) for key in _CONNECTION_KEYS))

    def connection_from(self, kwargs: Mapping[str, Any], env: Mapping[str, str]) -> dep.Connection:
        return dep.connection(*(kwargs.get("kestra_" + key) or env.get("KESTRA_" + key.upper())
                                for key in _CONNECTION_KEYS))

    def deployer_connection_kwargs(self, conn: dep.Connection, namespace: Optional[str] = None) -> Dict[str, Any]:
        return {"kestra_host": conn.host, "kestra_user": conn.user, "kestra_password": conn.password,
                "kestra_token": conn.token, "kestra_tenant": conn.tenant,
                "kestra_namespace": namespace or conn.namespace}

    # ---- deployments -----------------------------------------------------------------------
    def deployment_name(self, plan, name: Optional[str]) -> str:
        return dep.deployment_name(plan, name)

    def _document(self, obj, plan, kw: Mapping[str, Any], conn: dep.Connection, version: int,
                  webhook_keys: Tuple[Tuple[str, str], ...] = ()):
        fid = dep.deployment_name(plan, kw.get("name"))
        options = dep.deploy_options(obj, plan, kw.get("tags") or (), kw.get("user_namespace"),
                                     kw.get("code_package", False))
        target = dep.target(plan, conn, fid, version, kw.get("max_workers") or 16, kw.get("workflow_timeout"),
                            kw.get("worker_python"), webhook_keys, kw.get("task_runner") or "process", kw.get("image"))
        return compile_flow(plan, options, target), fid

    def compile_text(self, obj, plan, kw: Mapping[str, Any]) -> str:
        conn = dep.connection(namespace=kw.get("kestra_namespace"))
        doc, _ = self._document(obj, plan, kw, conn, int(kw.get("kestra_version") or 2))
        return dump(doc)

    def deploy(self, obj, plan, kw: Mapping[str, Any], client, conn: dep.Connection) -> Deployed:
        version = int(kw.get("kestra_version") or client.major)
        fid = dep.deployment_name(plan, kw.get("name"))
        existing = client.get_flow(conn.namespace, fid)
        if existing is not None:  # the `metaflow-flow` label records whose it is
            check_owner(dep.flow_labels(existing).get(dep.LABEL_FLOW), plan.flow_name,
                        "Kestra flow %s/%s" % (conn.namespace, fid))
        doc, fid = self._document(obj, plan, kw, conn, version, events.deploy_keys(plan, existing))
        send_flow(client, conn.namespace, fid, dump(doc), existing)
        return Deployed(name=fid, flow_name=plan.flow_name,
                        where="Kestra %d.x as %s/%s" % (version, conn.namespace, fid),
                        info={"namespace": conn.namespace, "flow_id": fid, "kestra_version": version},
                        notes=tuple(_event_notes(plan)))

    def delete(self, client, conn: dep.Connection, name: str) -> None:
        client.delete_flow(conn.namespace, name)

    def list_deployments(self, client, conn: dep.Connection, flow_name: Optional[str]) -> List[str]:
        found = []
        for flow in client.list_flows(conn.namespace):
            labels = dep.flow_labels(flow)
            if dep.LABEL_FLOW in labels and (flow_name is None or labels[dep.LABEL_FLOW] == flow_name):
                found.append(flow["id"])
        return found

    def describe_deployment(self, client, conn: dep.Connection, identifier: str) -> DeploymentFacts:
        namespace, fid = dep.split_identifier(identifier, conn.namespace)
        flow = client.get_flow(namespace, fid)
        if flow is None:
            raise LookupError("no Kestra flow %s/%s" % (namespace, fid))
        labels = dep.flow_labels(flow)
        # The parameter types as the deployment declared them (vars.metaflow.init), else the inputs'.
        declared = (((flow.get("variables") or {}).get("metaflow") or {}).get("init") or {}).get("params") or {}
        params = {i["id"]: {"type": _PARAM_TYPES.get(declared.get(i["id"]) or i.get("type"), "str"),
                            "description": i.get("description"),
                            "is_required": bool(i.get("required")) and "defaults" not in i}
                  for i in flow.get("inputs") or [] if i["id"] != "metaflow_event"}
        return DeploymentFacts(name=fid, flow_name=labels.get(dep.LABEL_FLOW) or fid.split(".")[-1], params=params,
                               project=labels.get(dep.LABEL_PROJECT), branch=labels.get(dep.LABEL_BRANCH),
                               owner=labels.get(dep.LABEL_OWNER),
                               connection_kwargs=self.deployer_connection_kwargs(conn, namespace))

    # ---- events ----------------------------------------------------------------------------
    def publish_event(self, client, conn: dep.Connection, event: str, payload: Dict[str, Any]):
        from .events import publish

        return publish(client, conn.namespace, event, payload)

    def event_scope(self, conn: dep.Connection) -> str:
        return "namespace %s" % conn.namespace

    # ---- runs ------------------------------------------------------------------------------
    def start(self, client, conn: dep.Connection, name: str, inputs: Dict[str, Any],
              resume: Optional[ResumeRequest] = None) -> str:
        # A resume request travels as execution labels: tasks read them as `labels`, and the
        # Kestra UI shows which run this one resumes.
        return client.trigger(conn.namespace, name, inputs, labels=resume.labels() if resume else None)["id"]

    def ui_url(self, client, conn: dep.Connection, name: str, engine_run_id: str) -> str:
        return client.ui_url(conn.namespace, name, engine_run_id)

    def get_run(self, client, engine_run_id: str) -> Dict[str, Any]:
        return client.get_execution(engine_run_id)

    def state_of(self, run: Mapping[str, Any]) -> str:
        return (run.get("state") or {}).get("current", "")

    def status_of(self, run: Mapping[str, Any]) -> str:
        return dep.status_of(run)

    def wait(self, client, engine_run_id: str, max_wait: Optional[float], poll: float,
             on_update=None, closing=None) -> Dict[str, Any]:
        return client.wait(engine_run_id, max_wait=max_wait, poll=poll, on_update=on_update, closing=closing)

    def step_states(self, client, run: Mapping[str, Any]) -> List[StepState]:
        """(step [foreach index path], state) of the task runs that are Metaflow steps (our
        own Parallel/ForEach/Switch wrappers are named ``mf-...``); 2.x Loop iterations too."""
        return [StepState("%s%s" % (r["taskId"], " [%s]" % _value(r) if _value(r) else ""),
                          r.get("state", {}).get("current", ""), len(r.get("attempts") or ()) or 1)
                for r in client.task_runs(run["id"], dict(run), outputs=False) if not r["taskId"].startswith("mf-")]

    def ending_reason(self, client, run: Mapping[str, Any]) -> Optional[str]:
        limit = dep.flow_labels(dict(run)).get(LABEL_WORKFLOW_TIMEOUT)
        return "the run exceeded its --workflow-timeout of %s" % limit if limit else None

    def failures(self, client, run: Mapping[str, Any]) -> List[Failure]:
        failed = [r for r in client.task_runs(run["id"], dict(run), outputs=False)
                  if r.get("state", {}).get("current") == "FAILED" and not r["taskId"].startswith("mf-")]
        out = []
        for task_run in failed:
            where = task_run.get("executionId") or run["id"]
            lines = [entry.get("message", "") for entry in client.logs(where, task_id=task_run["taskId"])
                     if not task_run.get("value") or entry.get("taskRunId") in (None, task_run.get("id"))]
            out.append(Failure(task_run["taskId"], tuple(lines)))
        return out

    def list_runs(self, client, conn: dep.Connection, name: str, limit: int) -> List[RunSummary]:
        return [RunSummary(self.run_id(e["id"]), dep.status_of(e), e.get("state", {}).get("startDate", ""))
                for e in client.list_executions(conn.namespace, name, size=limit)]

    def terminate(self, client, engine_run_id: str) -> None:
        client.kill(engine_run_id)

    def logs(self, client, engine_run_id: str, step: Optional[str]) -> Iterable[Tuple[str, str]]:
        for entry in client.logs(engine_run_id, task_id=step):
            yield entry.get("taskId", ""), entry.get("message", "")


def _namespace_option() -> Callable:
    return click.option("--kestra-namespace", default=None, help="Kestra namespace (env KESTRA_NAMESPACE, default metaflow).")


def _value(run: Mapping[str, Any]) -> Optional[str]:
    """The foreach position of a task run: 1.x ForEach value, 2.x Loop iteration value."""
    return run.get("value") or run.get("loopValue")


def _event_notes(plan) -> List[Tuple[str, Optional[str]]]:
    if not plan.event_triggers:
        return []
    notes: List[Tuple[str, Optional[str]]] = [(
        "It listens for events %s: publish one with `python %s kestra send-event NAME`."
        % (", ".join(e.name for e in plan.event_triggers), os.path.basename(sys.argv[0])), None)]
    return notes


def send_flow(client, namespace: str, flow_id: str, source: str, existing: Optional[Dict[str, Any]]) -> bool:
    """Create or update the flow, unless Kestra holds this very source already (``existing``:
    its ``GET ?source=true`` body, or None): a re-run of an unchanged flow then makes no
    request and no new revision. A disabled flow is sent (as before), never skipped. Whether it
    sent the flow."""
    if existing is not None and existing.get("source") == source and not existing.get("disabled"):
        return False
    client.upsert_flow(source, namespace, flow_id, exists=existing is not None)
    return True


ENGINE = KestraEngine()


def in_place_refusal(state: str, major: int) -> Optional[str]:
    """Why Kestra would refuse to restart an execution in ``state``, if it would: a restart
    re-runs failed task runs only ("No task found to restart" otherwise), and 1.x refuses
    KILLED executions ("Execution must be terminated or paused and not killed to be
    restarted", ExecutionService.restart@v1.3.25)."""
    if state in ("SUCCESS", "WARNING"):
        return "it has no failed step to restart"
    if state == "KILLED" and major < 2:
        return "Kestra 1.x cannot restart a killed execution"
    if state not in ("FAILED", "KILLED", "PAUSED"):
        return "only an ended execution can be restarted"
    return None

