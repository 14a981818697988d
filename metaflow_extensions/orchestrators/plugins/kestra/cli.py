"""``python flow.py kestra ...``: compile, create, run, trigger, resume, status,
list-runs, terminate, logs, send-event."""
from __future__ import annotations

import functools
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

from metaflow import parameters
from metaflow._vendor import click
from metaflow.exception import MetaflowException

from ..cli_common import engine_cli, group_options, plan_from_obj
from ..plan import PlanError
from ..plan.transforms import add_decospecs, with_branch
from . import deployment as dep
from .client import KestraError
from .compiler import compile_flow, dump


class KestraCLIError(MetaflowException):
    headline = "Kestra"


def _errors(f):
    """Engine and plan errors become one clear line, not a traceback."""
    @functools.wraps(f)
    def wrapper(obj, *args, **kwargs):
        try:
            return f(obj, *args, **group_options(obj, kwargs))
        except (KestraError, PlanError, ValueError) as ex:
            raise KestraCLIError(str(ex))
    return wrapper


def _connection_options():
    return [
        click.option("--kestra-host", default=None, help="Kestra URL (env KESTRA_HOST, default http://localhost:8080)."),
        click.option("--kestra-user", default=None, help="Basic-auth user (env KESTRA_USER)."),
        click.option("--kestra-password", default=None, show_default=False,
                     help="Basic-auth password (env KESTRA_PASSWORD; prefer the variable: options show in process lists)."),
        click.option("--kestra-token", default=None, show_default=False, help="Enterprise API token (env KESTRA_TOKEN)."),
        click.option("--kestra-tenant", default=None, help="Tenant (env KESTRA_TENANT; default: detected)."),
        click.option("--kestra-namespace", default=None, help="Kestra namespace (env KESTRA_NAMESPACE, default metaflow)."),
    ]


_NAME = click.option("--name", default=None, help="Kestra flow id (default: the flow name, project-aware).")


def _options(f, options):
    for option in reversed(options):
        f = option(f)
    return f


def _project_options():
    return [click.option("--branch", default=None, help="@project branch (same as the top-level --branch)."),
            click.option("--production", is_flag=True, default=False, help="@project production deployment.")]


def _wait_options():
    return [click.option("--wait/--no-wait", default=False, show_default=True, help="Wait for the run to end."),
            click.option("--max-wait", default=None, type=float, help="Give up waiting after this many seconds."),
            click.option("--deployer-attribute-file", default=None, hidden=True,
                         help="Write the run's metadata and pathspec to this file (Metaflow's Deployer API).")]


def connection_options(f):
    return _options(f, _connection_options())


def project_options(f):
    return _options(f, _project_options())


# Also on the group, where Metaflow's Deployer puts its keyword arguments; commands that
# take flow parameters (run, trigger) accept --name only there, so a parameter may be
# called "name".
cli, kestra = engine_cli("kestra", "Kestra", _connection_options() + [_NAME])


def deploy_options(f=None, named: bool = True):
    """Deployment options; ``named=False`` leaves ``--name`` to the group (see above)."""
    if f is None:
        return functools.partial(deploy_options, named=named)
    return _options(f, ([_NAME] if named else []) + [
        click.option("--tag", "tags", multiple=True, help="Tag every Metaflow run with this (repeatable)."),
        click.option("--namespace", "user_namespace", default=None, help="Metaflow namespace of the runs."),
        click.option("--max-workers", default=16, show_default=True, type=int,
                     help="How many foreach iterations run at once."),
        click.option("--workflow-timeout", default=None, type=int, help="Fail a run after this many seconds (sla)."),
        click.option("--with", "decospecs", multiple=True, help="Add a decorator to every step (repeatable)."),
        click.option("--worker-python", default=None, help="Interpreter on the Kestra worker (default python3)."),
    ] + _project_options())


def _conn(kw: Dict[str, Any]) -> dep.Connection:
    return dep.connection(kw.get("kestra_host"), kw.get("kestra_user"), kw.get("kestra_password"),
                          kw.get("kestra_token"), kw.get("kestra_tenant"), kw.get("kestra_namespace"))


def _build(obj, kw: Dict[str, Any], version: int, conn: dep.Connection):
    """The compiled document, its Kestra flow id and the plan it came from."""
    plan = with_branch(plan_from_obj(obj, kw.get("tags") or ()), kw.get("branch"), kw.get("production"))
    plan = add_decospecs(plan, kw.get("decospecs"))
    fid = dep.deployment_name(plan, kw.get("name"))
    options = dep.deploy_options(obj, plan, kw.get("tags") or (), kw.get("user_namespace"))
    target = dep.target(plan, conn, fid, version, kw.get("max_workers") or 16, kw.get("workflow_timeout"),
                        kw.get("worker_python"))
    return compile_flow(plan, options, target), fid, plan


@kestra.command(help="Compile this flow to a Kestra flow (YAML) without deploying it.")
@click.argument("file", required=False, type=click.File("w"), default="-")
@click.option("--kestra-version", type=click.Choice(["1", "2"]), default="2", show_default=True,
              help="Kestra major version to target.")
@click.option("--kestra-namespace", default=None, help="Kestra namespace (env KESTRA_NAMESPACE, default metaflow).")
@deploy_options
@click.pass_obj
@_errors
def compile(obj, file, kestra_version, **kw):
    conn = dep.connection(namespace=kw.get("kestra_namespace"))
    doc, _, _ = _build(obj, kw, int(kestra_version), conn)
    file.write(dump(doc))


@kestra.command(help="Deploy this flow to Kestra (create or update).")
@connection_options
@deploy_options
@click.option("--kestra-version", type=click.Choice(["1", "2"]), default=None,
              help="Kestra major version (default: asked from the server).")
@click.option("--deployer-attribute-file", default=None, hidden=True,
              help="Write the deployment's metadata to this file (Metaflow's Deployer API).")
@click.pass_obj
@_errors
def create(obj, kestra_version=None, deployer_attribute_file=None, **kw):
    _create(obj, kw, kestra_version, deployer_attribute_file)


def _create(obj, kw, kestra_version, attribute_file) -> dep.Connection:
    conn = _conn(kw)
    with conn.client() as client:
        version = int(kestra_version or client.major)
        doc, fid, plan = _build(obj, kw, version, conn)
        client.upsert_flow(dump(doc), conn.namespace, fid)
    obj.echo("Flow *%s* deployed to Kestra %d.x as %s/%s." % (plan.flow_name, version, conn.namespace, fid), bold=True)
    if plan.event_triggers:
        obj.echo("It listens for events %s: publish one with `python %s kestra send-event NAME`."
                 % (", ".join(e.name for e in plan.event_triggers), os.path.basename(sys.argv[0])))
        if not os.environ.get("KESTRA_WEBHOOK_SECRET"):
            obj.echo("Warning: KESTRA_WEBHOOK_SECRET is not set, so the event webhook key can be derived "
                     "from public names and anyone who reaches Kestra could start this flow; set it "
                     "(here and where events are sent) and deploy again.", fg="yellow")
    if attribute_file:
        _write(attribute_file, {"name": fid, "flow_name": plan.flow_name, "metadata": obj.metadata.metadata_str(),
                                "additional_info": {"namespace": conn.namespace, "flow_id": fid,
                                                    "kestra_version": version}})
    kw["name"] = fid
    return conn


def _write(path: str, content: Dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(content, f)


def trigger_options(f):
    return _options(f, [
        click.option("--run-param", "run_params", multiple=True, help="Parameter as name=value (repeatable)."),
        click.option("--run-id-file", default=None, help="Write the Metaflow run id to this file."),
    ] + _wait_options())


@parameters.add_custom_parameters(deploy_mode=False)
@kestra.command(help="Start a run of the deployed flow.")
@connection_options
@project_options
@trigger_options
@click.pass_obj
@_errors
def trigger(obj, **kw):
    plan = with_branch(plan_from_obj(obj), kw.get("branch"), kw.get("production"))
    _trigger(obj, _conn(kw), dep.deployment_name(plan, kw.get("name")), kw)


@parameters.add_custom_parameters(deploy_mode=False)
@kestra.command(help="Deploy this flow and start a run of it (add --wait to follow it).")
@connection_options
@deploy_options(named=False)
@click.option("--kestra-version", type=click.Choice(["1", "2"]), default=None,
              help="Kestra major version (default: asked from the server).")
@trigger_options
@click.pass_obj
@_errors
def run(obj, kestra_version=None, **kw):
    attribute_file = kw.pop("deployer_attribute_file", None)
    conn = _create(obj, kw, kestra_version, None)
    kw["deployer_attribute_file"] = attribute_file
    _trigger(obj, conn, kw["name"], kw)


def _trigger(obj, conn: dep.Connection, fid: str, kw: Dict[str, Any]) -> None:
    inputs = _inputs(obj, kw)
    with conn.client() as client:
        execution = client.trigger(conn.namespace, fid, inputs)
        run_id = dep.run_id(execution["id"])
        pathspec = "%s/%s" % (obj.flow.name, run_id)
        # Written before waiting: the Deployer blocks on this file.
        if kw.get("run_id_file"):
            with open(kw["run_id_file"], "w") as f:
                f.write(run_id)
        if kw.get("deployer_attribute_file"):
            _write(kw["deployer_attribute_file"], {"name": fid, "metadata": obj.metadata.metadata_str(),
                                                   "pathspec": pathspec})
        obj.echo("Run *%s* started on Kestra (execution %s)." % (pathspec, execution["id"]), bold=True)
        obj.echo("Kestra UI: %s" % client.ui_url(conn.namespace, fid, execution["id"]))
        if kw.get("wait"):
            _wait(obj, client, execution["id"], kw.get("max_wait"))


def _inputs(obj, kw: Dict[str, Any]) -> Dict[str, Any]:
    """Typed parameter options, then ``--run-param name=value`` (which wins)."""
    known = {}
    inputs: Dict[str, Any] = {}
    for _, param in obj.flow._get_parameters():
        if getattr(param, "IS_CONFIG_PARAMETER", False):
            continue
        known[param.name] = param
        value = kw.get(param.name.replace("-", "_").lower())
        if value is not None:
            if isinstance(value, parameters.DelayedEvaluationParameter):
                value = value(return_str=True)
            inputs[param.name] = value
    for item in kw.get("run_params") or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise KestraCLIError("--run-param expects name=value, got %r" % item)
        if name not in known:
            raise KestraCLIError("the flow has no parameter %r (parameters: %s)" % (name, ", ".join(sorted(known)) or "none"))
        inputs[name] = value
    return inputs


def _wait(obj, client, execution_id: str, max_wait: Optional[float]) -> None:
    seen: Dict[str, str] = {}

    def progress(execution: Dict[str, Any]) -> None:
        # Called when a top-level task run changed: 2.x Loop iterations are read then.
        for label, state in _step_states(client.task_runs(execution["id"], execution, outputs=False)):
            if seen.get(label) != state:
                seen[label] = state
                obj.echo("    %s: %s" % (label, state))

    execution = client.wait(execution_id, max_wait=max_wait, on_update=progress)
    state = execution["state"]["current"]
    if dep.status_of(execution) != "SUCCEEDED":
        _print_failure(obj, client, execution)
        raise KestraCLIError("run %s ended %s" % (dep.run_id(execution_id), state))
    obj.echo("Run %s ended %s." % (dep.run_id(execution_id), state), bold=True)


def _step_states(task_runs) -> List[Tuple[str, str]]:
    """(step [foreach index path], state) of the task runs that are Metaflow steps (our
    own Parallel/ForEach/Switch wrappers are named ``mf-...``)."""
    return [("%s%s" % (run["taskId"], " [%s]" % _value(run) if _value(run) else ""),
             run.get("state", {}).get("current", ""))
            for run in task_runs if not run["taskId"].startswith("mf-")]


def _value(run: Dict[str, Any]) -> Optional[str]:
    """The foreach position of a task run: 1.x ForEach value, 2.x Loop iteration value."""
    return run.get("value") or run.get("loopValue")


def _print_failure(obj, client, execution: Dict[str, Any]) -> None:
    """The failed steps and the end of their output: the step's error, where users look."""
    failed = [r for r in client.task_runs(execution["id"], execution, outputs=False)
              if r.get("state", {}).get("current") == "FAILED" and not r["taskId"].startswith("mf-")]
    for run in failed:
        where = run.get("executionId") or execution["id"]
        lines = [entry.get("message", "") for entry in client.logs(where, task_id=run["taskId"])
                 if not run.get("value") or entry.get("taskRunId") in (None, run.get("id"))]
        obj.echo("Step %s failed:" % run["taskId"], bold=True)
        for line in lines[-20:]:
            obj.echo("    " + line)


@kestra.command(help="Resume a failed run: re-run its failed steps in place (Kestra restart); "
                      "successful steps keep their results and the Metaflow run id stays the same.")
@connection_options
@click.option("--clone-run-id", required=True, help="The run to resume (Metaflow run id or Kestra execution id).")
@functools.partial(_options, options=_wait_options())
@click.pass_obj
@_errors
def resume(obj, clone_run_id, wait=False, max_wait=None, deployer_attribute_file=None, **kw):
    conn = _conn(kw)
    execution_id = dep.execution_id(clone_run_id)
    with conn.client() as client:
        execution = client.restart(execution_id)
        pathspec = "%s/%s" % (obj.flow.name, dep.run_id(execution["id"]))
        if deployer_attribute_file:
            _write(deployer_attribute_file, {"name": execution.get("flowId", ""),
                                             "metadata": obj.metadata.metadata_str(), "pathspec": pathspec})
        obj.echo("Run *%s* resumed on Kestra (execution %s restarted)." % (pathspec, execution["id"]), bold=True)
        if wait:
            _wait(obj, client, execution["id"], max_wait)


def run_command(help_text: str, *options):
    """A command about one run: ``RUN_ID`` (Metaflow run id or Kestra execution id) plus
    the connection options."""
    def decorate(f):
        f = _options(click.pass_obj(_errors(f)), options)
        return kestra.command(help=help_text)(connection_options(click.argument("run_id")(f)))
    return decorate


@run_command("Show the state of a run (Metaflow run id or Kestra execution id).")
def status(obj, run_id, **kw):
    with _conn(kw).client() as client:
        execution = client.get_execution(dep.execution_id(run_id))
        click.echo("%s %s (Kestra %s)" % (dep.run_id(execution["id"]), dep.status_of(execution),
                                               execution["state"]["current"]))
        for label, state in _step_states(client.task_runs(execution["id"], execution)):
            click.echo("    %s: %s" % (label, state))


@kestra.command(name="list-runs", help="List the runs of the deployed flow, newest first.")
@connection_options
@project_options
@click.option("--limit", default=25, show_default=True, type=int)
@_NAME
@click.pass_obj
@_errors
def list_runs(obj, limit, **kw):
    plan = with_branch(plan_from_obj(obj), kw.get("branch"), kw.get("production"))
    conn = _conn(kw)
    with conn.client() as client:
        for execution in client.list_executions(conn.namespace, dep.deployment_name(plan, kw.get("name")), size=limit):
            state = execution.get("state", {})
            click.echo("%s  %-9s  %s" % (dep.run_id(execution["id"]), dep.status_of(execution),
                                               state.get("startDate", "")))


@run_command("Stop a running run (Metaflow run id or Kestra execution id).")
def terminate(obj, run_id, **kw):
    with _conn(kw).client() as client:
        client.kill(dep.execution_id(run_id))
    obj.echo("Run %s is being terminated." % dep.run_id(dep.execution_id(run_id)))


@run_command("Print the Kestra logs of a run (optionally one step).",
             click.option("--step", default=None, help="Only this step."))
def logs(obj, run_id, step=None, **kw):
    with _conn(kw).client() as client:
        for entry in client.logs(dep.execution_id(run_id), task_id=step):
            click.echo("%s %s" % (entry.get("taskId", ""), entry.get("message", "")))


@kestra.command(name="send-event", help="Publish an event: start every deployed flow of the namespace "
                                          "that has @trigger(event=NAME).")
@connection_options
@click.argument("event_name")
@click.option("--payload", multiple=True, help="Payload field as key=value (repeatable).")
@click.option("--payload-json", default=None, help="The whole payload as a JSON object.")
@click.pass_obj
@_errors
def send_event(obj, event_name, payload, payload_json=None, **kw):
    from .events import publish

    body = json.loads(payload_json) if payload_json else {}
    for item in payload:
        key, sep, value = item.partition("=")
        if not sep:
            raise KestraCLIError("--payload expects key=value, got %r" % item)
        body[key] = value
    conn = _conn(kw)
    with conn.client() as client:
        started = publish(client, conn.namespace, event_name, body)
    for fid, execution_id in started:
        obj.echo("Event *%s* started %s (run %s)." % (event_name, fid, dep.run_id(execution_id)))
    if not started:
        obj.echo("No deployed flow in namespace %s listens for event %s." % (conn.namespace, event_name))
