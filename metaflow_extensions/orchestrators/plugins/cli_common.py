"""The commands every engine's CLI group shares, written once against the engine contract
(``engine.Engine``): compile, create, trigger, run, status, list-runs, terminate, logs,
plan. An engine's ``cli.py`` builds its group with :func:`engine_cli` and adds only what
is its own."""
from __future__ import annotations

import atexit
import functools
import gc
import json
import re
from typing import Any, Callable, Dict, List, Optional, Sequence

from metaflow import parameters
from metaflow._vendor import click

from .code_package import start_building
from .engine import Deployed, Engine, decorate
from .plan import PlanError, build_plan
from .plan.serialize import to_dict
from .plan.transforms import add_decospecs, with_branch
from .rest import EngineError
from .runtime.resume import ResumeRequest


def fail(title: str, message: str) -> None:
    """One clear error and exit status 1. Printed verbatim: Metaflow's exception printer turns
    every ``*`` into bold markup (a cron ``*/5 * * * *`` would lose its stars), and the message
    often quotes user text."""
    click.secho("    %s:" % title, err=True, bold=True)
    click.echo("\n".join("    " + line for line in message.splitlines() or [""]), err=True)
    raise SystemExit(1)


def run_param_value(param, text: str) -> Any:
    """``--run-param name=value`` read as the typed option ``--name value`` reads it: a bool
    parameter takes click's words (1/0, true/false, yes/no, on/off, y/n); other types travel as
    text and are converted by the same rules downstream."""
    kind = param.kwargs.get("type")
    if kind is bool or (kind is None and isinstance(param.kwargs.get("default"), bool)):
        try:
            return click.BOOL.convert(text, None, None)
        except click.BadParameter:
            raise ValueError("--run-param %s=%r is not a boolean (use true/false, 1/0, yes/no or on/off)"
                             % (param.name, text))
    return text


def attempt_totals(obj) -> Dict[str, int]:
    """How many attempts each step has (``@retry``/``@catch``), for "attempt N/M"."""
    return {task.name: task.retry.total_attempts for task in plan_from_obj(obj).steps()}


def step_line(step, totals: Dict[str, int]) -> str:
    """ "train [2]: RUNNING", with "(attempt 2/3)" once a retry is under way."""
    line = "%s: %s" % (step.label, step.state)
    if step.attempt > 1:
        line += " (attempt %d/%d)" % (step.attempt, max(totals.get(step.step, step.attempt), step.attempt))
    return line


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Failure)\b.*")


def failure_reason(lines: Sequence[str], engine_prefixes: Sequence[str] = ()) -> str:
    """The one line that says why a step failed: Metaflow's ``@timeout`` message, else the
    last Python exception line, else the last line of output (the engine's own lines, e.g.
    Kestra's ``io.kestra…TaskException: Command failed``, left out)."""
    text = [line.strip() for line in lines if line.strip() and not line.strip().startswith(tuple(engine_prefixes))]
    for line in text:
        if " timed out after " in line:
            return line
    for line in reversed(text):
        if _EXCEPTION_LINE.match(line):
            return line
    return text[-1] if text else "no output"


def show_failures(engine, client, run, echo: Callable[..., None]) -> List[str]:
    """Each failed step with its reason on one line, then the end of its output; returns the
    "step: reason" lines for the closing message."""
    reasons = []
    for failure in engine.failures(client, run):
        reason = failure_reason(failure.lines, engine.engine_line_prefixes)
        reasons.append("%s: %s" % (failure.step, reason))
        echo("Step %s failed: %s" % (failure.step, reason), bold=True, no_bold=True)
        for line in failure.lines[-20:]:
            echo("    " + line, no_bold=True)  # user output: its `*`s are text
    return reasons


def plan_from_obj(obj, tags=()):
    """The plan of the flow Metaflow's CLI has loaded (decorators initialised)."""
    return build_plan(obj.flow, obj.graph, environment_type=obj.environment.TYPE, tags=tags)


def deploy_plan(obj, kw: Dict[str, Any]):
    """The plan as the deploy options shape it (tags, --branch/--production, --with)."""
    plan = with_branch(plan_from_obj(obj, kw.get("tags") or ()), kw.get("branch"), kw.get("production"))
    return add_decospecs(plan, kw.get("decospecs"))


def group_options(obj, command_kwargs):
    """A command's options over the group's: a value given to the command wins."""
    merged = dict(getattr(obj, "engine_options", None) or {})
    merged.update({k: v for k, v in command_kwargs.items() if v is not None or k not in merged})
    return merged


def project_options() -> List[Callable]:
    return [click.option("--branch", default=None, help="@project branch (same as the top-level --branch)."),
            click.option("--production", is_flag=True, default=False, help="@project production deployment.")]


def wait_options() -> List[Callable]:
    return [click.option("--wait/--no-wait", default=False, show_default=True, help="Wait for the run to end."),
            click.option("--max-wait", default=None, type=float, help="Give up waiting after this many seconds."),
            click.option("--deployer-attribute-file", default=None, hidden=True,
                         help="Write the run's metadata and pathspec to this file (Metaflow's Deployer API).")]


def _positive(ctx, param, value):
    """A count or a duration of at least 1 (click.IntRange would do, but Metaflow's Deployer
    only maps plain types to its API)."""
    if value is not None and value < 1:
        raise click.BadParameter("must be at least 1, got %d" % value)
    return value


def shared_deploy_options(engine: Engine, max_workers: int) -> List[Callable]:
    return [
        click.option("--tag", "tags", multiple=True, help="Tag every Metaflow run with this (repeatable)."),
        click.option("--namespace", "user_namespace", default=None, help="Metaflow namespace of the runs."),
        click.option("--max-workers", default=max_workers, show_default=True, type=int, callback=_positive,
                     help="How many foreach iterations run at once."),
        click.option("--workflow-timeout", default=None, type=int, callback=_positive,
                     help="Fail a run after this many seconds."),
        click.option("--with", "decospecs", multiple=True, help="Add a decorator to every step (repeatable)."),
        click.option("--worker-python", default=None,
                     help="Interpreter on the %s worker (default python3)." % engine.title),
        click.option("--code-package/--no-code-package", default=True, show_default=True,
                     help="Ship the flow to the workers as Metaflow's code package, stored in the datastore "
                          "(--no-code-package: workers run the flow file at this machine's path)."),
    ] + project_options()


def write_json(path: str, content: Dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(content, f)


def record_run(obj, kw: Dict[str, Any], name: str, run_id: str) -> str:
    """Write the run's id where ``--run-id-file`` and the Deployer's attribute file ask, before
    any waiting (the Deployer blocks on that file); returns the run's pathspec."""
    pathspec = "%s/%s" % (obj.flow.name, run_id)
    if kw.get("run_id_file"):
        with open(kw["run_id_file"], "w") as f:
            f.write(run_id)
    if kw.get("deployer_attribute_file"):
        write_json(kw["deployer_attribute_file"], {"name": name, "metadata": obj.metadata.metadata_str(),
                                                   "pathspec": pathspec})
    return pathspec


class EngineCommands:
    """The shared commands of one engine's group."""

    def __init__(self, engine: Engine, group: click.Group, max_workers: int = 16):
        self.engine = engine
        self.group = group
        self.max_workers = max_workers

    # ---- decorators ------------------------------------------------------------------------
    def errors(self, f):
        """Engine and plan errors become one clear line, not a traceback."""
        title = self.engine.title

        @functools.wraps(f)
        def wrapper(obj, *args, **kwargs):
            try:
                return f(obj, *args, **group_options(obj, kwargs))
            except (EngineError, PlanError, ValueError, LookupError) as ex:
                fail(title, str(ex))
        return wrapper

    def connection(self, f):
        return decorate(f, self.engine.connection_options())

    def deploy(self, f, named: bool = True, server: bool = True):
        named_opt = [self.engine.name_option()] if named else []
        own = self.engine.create_options() if server else self.engine.compile_options()
        return decorate(f, named_opt + shared_deploy_options(self.engine, self.max_workers)
                        + self.engine.deploy_options() + own)

    def wait_opts(self, f):
        return decorate(f, wait_options())

    def trigger_opts(self, f):
        return decorate(f, [
            click.option("--run-param", "run_params", multiple=True, help="Parameter as name=value (repeatable)."),
            click.option("--run-id-file", default=None, help="Write the Metaflow run id to this file."),
        ] + wait_options())

    # ---- the commands ----------------------------------------------------------------------
    def add_all(self) -> None:
        from .resume_cli import add_resume  # it builds on this module

        for add in (self.add_compile, self.add_create, self.add_trigger, self.add_run, self.add_status,
                    self.add_list_runs, self.add_terminate, self.add_logs, self.add_send_event):
            add()
        add_resume(self)

    def add_compile(self) -> None:
        engine = self.engine

        @self.group.command(help="Compile this flow to a %s workflow without deploying it." % engine.title)
        @click.argument("file", required=False, type=click.File("w", lazy=True), default="-")
        @functools.partial(self.deploy, server=False)
        @click.pass_obj
        @self.errors
        def compile(obj, file, **kw):
            if kw.get("code_package"):
                start_building(obj)
            text = engine.compile_text(obj, deploy_plan(obj, kw), kw)
            file.write(text)  # opens the (lazy) file only now: a failed compile leaves no file

    def add_create(self) -> None:
        engine = self.engine

        @self.group.command(help="Deploy this flow to %s (create or update)." % engine.title)
        @self.connection
        @self.deploy
        @click.option("--deployer-attribute-file", default=None, hidden=True,
                      help="Write the deployment's metadata to this file (Metaflow's Deployer API).")
        @click.pass_obj
        @self.errors
        def create(obj, deployer_attribute_file=None, **kw):
            self.create(obj, kw, deployer_attribute_file)

    def create(self, obj, kw: Dict[str, Any], attribute_file: Optional[str]):
        if kw.get("code_package"):
            start_building(obj)
        conn = self.engine.connection(kw)
        plan = deploy_plan(obj, kw)
        with conn.client() as client:
            deployed: Deployed = self.engine.deploy(obj, plan, kw, client, conn)
        obj.echo("Flow *%s* deployed to %s." % (plan.flow_name, deployed.where), bold=True)
        for message, colour in deployed.notes:
            obj.echo(message, fg=colour, no_bold=True) if colour else obj.echo(message, no_bold=True)
        if attribute_file:
            write_json(attribute_file, {"name": deployed.name, "flow_name": plan.flow_name,
                                        "metadata": obj.metadata.metadata_str(), "additional_info": deployed.info})
        kw["name"] = deployed.name
        return conn

    def add_trigger(self) -> None:
        engine = self.engine

        @parameters.add_custom_parameters(deploy_mode=False)
        @self.group.command(help="Start a run of the deployed flow.")
        @self.connection
        @functools.partial(decorate, options=project_options())
        @self.trigger_opts
        @click.pass_obj
        @self.errors
        def trigger(obj, **kw):
            plan = with_branch(plan_from_obj(obj), kw.get("branch"), kw.get("production"))
            self.start(obj, engine.connection(kw), engine.deployment_name(plan, kw.get("name")), kw)

    def add_run(self) -> None:
        @parameters.add_custom_parameters(deploy_mode=False)
        @self.group.command(help="Deploy this flow and start a run of it (add --wait to follow it).")
        @self.connection
        @functools.partial(self.deploy, named=False)
        @self.trigger_opts
        @click.pass_obj
        @self.errors
        def run(obj, **kw):
            attribute_file = kw.pop("deployer_attribute_file", None)
            conn = self.create(obj, kw, None)
            kw["deployer_attribute_file"] = attribute_file
            self.start(obj, conn, kw["name"], kw)

    def start(self, obj, conn, name: str, kw: Dict[str, Any], inputs: Optional[Dict[str, Any]] = None,
              resume: Optional[ResumeRequest] = None) -> None:
        engine = self.engine
        inputs = self.inputs(obj, kw) if inputs is None else inputs
        with conn.client() as client:
            engine_id = engine.start(client, conn, name, inputs, resume=resume)
            pathspec = record_run(obj, kw, name, engine.run_id(engine_id))
            resuming = ", resuming %s" % resume.origin_run_id if resume else ""
            obj.echo("Run *%s* started on %s (%s%s)." % (pathspec, engine.title, self.run_word(engine_id), resuming),
                     bold=True)
            obj.echo("%s UI: %s" % (engine.title, engine.ui_url(client, conn, name, engine_id)))
            if kw.get("wait"):
                self.wait(obj, client, engine_id, kw.get("max_wait"))

    def run_word(self, engine_id: str) -> str:
        return "%s %s" % (self.engine.run_noun, engine_id)

    def inputs(self, obj, kw: Dict[str, Any]) -> Dict[str, Any]:
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
                raise ValueError("--run-param expects name=value, got %r" % item)
            if name not in known:  # a Python keyword's spelling of a dashed name (the Deployer's resume)
                name = next((n for n in known if n.replace("-", "_") == name), name)
            if name not in known:
                raise ValueError("the flow has no parameter %r (parameters: %s)"
                                 % (name, ", ".join(sorted(known)) or "none"))
            inputs[name] = run_param_value(known[name], value)
        return inputs

    def wait(self, obj, client, engine_id: str, max_wait: Optional[float]) -> None:
        engine = self.engine
        seen: Dict[str, Any] = {}
        totals = attempt_totals(obj)
        last_step = next((node.name for node in obj.graph if node.type == "end"), None)

        def progress(run: Dict[str, Any]) -> None:
            for step in engine.step_states(client, run):
                if seen.get(step.label) != (step.state, step.attempt):
                    seen[step.label] = (step.state, step.attempt)
                    obj.echo("    " + step_line(step, totals))

        def closing() -> bool:
            """The run's last step runs: it may end any moment (seen in the progress above)."""
            return (seen.get(last_step) or ("",))[0] == "RUNNING"

        run = engine.wait(client, engine_id, max_wait, 1.0, progress, closing)
        state = engine.state_of(run)
        run_id = engine.run_id(engine_id)
        if engine.status_of(run) != "SUCCEEDED":
            causes = show_failures(engine, client, run, lambda text, **kw: obj.echo(text, **kw))
            why = engine.ending_reason(client, run)
            if why:
                causes.append(why)
            raise ValueError("run %s ended %s%s" % (run_id, state, ": " + "; ".join(causes) if causes else ""))
        obj.echo("Run %s ended %s." % (run_id, state), bold=True)

    def run_command(self, help_text: str, *options: Callable, name: Optional[str] = None):
        """A command about one run: ``RUN_ID`` (Metaflow run id or the engine's id) plus
        the connection options."""
        def decorate_command(f):
            f = decorate(click.pass_obj(self.errors(f)), options)
            return self.group.command(name=name, help=help_text)(self.connection(click.argument("run_id")(f)))
        return decorate_command

    def add_status(self) -> None:
        engine = self.engine

        @self.run_command("Show the state of a run (Metaflow run id or %s run id)." % engine.title)
        def status(obj, run_id, **kw):
            with engine.connection(kw).client() as client:
                run = engine.get_run(client, engine.engine_run_id(run_id))
                engine_id = engine.engine_run_id(run_id)
                click.echo("%s %s (%s %s)" % (engine.run_id(engine_id), engine.status_of(run), engine.title,
                                              engine.state_of(run)))
                totals = attempt_totals(obj)
                for step in engine.step_states(client, run):
                    click.echo("    " + step_line(step, totals))
                if engine.status_of(run) == "FAILED":
                    show_failures(engine, client, run, lambda text, **kw: click.echo(text))

    def add_list_runs(self) -> None:
        engine = self.engine

        @self.group.command(name="list-runs", help="List the runs of the deployed flow, newest first.")
        @self.connection
        @functools.partial(decorate, options=project_options())
        @click.option("--limit", default=25, show_default=True, type=int)
        @engine.name_option()
        @click.pass_obj
        @self.errors
        def list_runs(obj, limit, **kw):
            plan = with_branch(plan_from_obj(obj), kw.get("branch"), kw.get("production"))
            conn = engine.connection(kw)
            with conn.client() as client:
                for run in engine.list_runs(client, conn, engine.deployment_name(plan, kw.get("name")), limit):
                    click.echo("%s  %-9s  %s" % (run.run_id, run.status, run.started))

    def add_terminate(self) -> None:
        engine = self.engine

        @self.run_command("Stop a running run (Metaflow run id or %s run id)." % engine.title)
        def terminate(obj, run_id, **kw):
            engine_id = engine.engine_run_id(run_id)
            with engine.connection(kw).client() as client:
                engine.terminate(client, engine_id)
            obj.echo("Run %s is being terminated." % engine.run_id(engine_id))

    def add_logs(self) -> None:
        engine = self.engine

        @self.run_command("Print the %s logs of a run (optionally one step)." % engine.title,
                          click.option("--step", default=None, help="Only this step."))
        def logs(obj, run_id, step=None, **kw):
            with engine.connection(kw).client() as client:
                for step_name, line in engine.logs(client, engine.engine_run_id(run_id), step):
                    click.echo("%s %s" % (step_name, line))

    def add_send_event(self) -> None:
        engine = self.engine

        @self.group.command(name="send-event", help="Publish an event: start every deployed flow that has "
                                                    "@trigger(event=NAME).")
        @self.connection
        @click.argument("event_name")
        @click.option("--payload", multiple=True, help="Payload field as key=value (repeatable).")
        @click.option("--payload-json", default=None, help="The whole payload as a JSON object.")
        @click.pass_obj
        @self.errors
        def send_event(obj, event_name, payload, payload_json=None, **kw):
            body = parse_payload(payload, payload_json)
            conn = engine.connection(kw)
            with conn.client() as client:
                started = engine.publish_event(client, conn, event_name, body)
            for name, engine_id in started:
                obj.echo("Event *%s* started %s (run %s)." % (event_name, name, engine.run_id(engine_id)))
            if not started:
                obj.echo("No deployed flow in %s listens for event %s." % (engine.event_scope(conn), event_name))


def parse_payload(payload: Sequence[str], payload_json: Optional[str]) -> Dict[str, Any]:
    body = json.loads(payload_json) if payload_json else {}
    if not isinstance(body, dict):
        raise ValueError("--payload-json expects a JSON object")
    for item in payload:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError("--payload expects key=value, got %r" % item)
        body[key] = value
    return body


def engine_cli(engine: Engine, max_workers: int = 16):
    """The ``cli`` object Metaflow registers (a vendored-click group holding exactly one
    group, named after the engine), and the shared commands on that group.

    Connection options and ``--name`` also go on the group: Metaflow's Deployer passes its
    keyword arguments there (``Deployer(f).kestra(name=...)``); commands read them back
    with ``group_options``; commands that take flow parameters (run, trigger) accept
    ``--name`` only there, so a parameter may be called "name"."""

    @click.group()
    def cli():
        pass

    def callback(obj, **kwargs):
        # The interpreter's last garbage collection then skips what Metaflow and the command built
        # (~60 ms of every command's exit). Exit handlers still run; no step's code runs here.
        atexit.register(gc.freeze)
        obj.check(obj.graph, obj.flow, obj.environment, pylint=obj.pylint)
        obj.engine_options = kwargs

    callback = decorate(callback, engine.connection_options() + [engine.name_option()])
    group = cli.group(name=engine.name, help="Commands related to %s." % engine.title)(click.pass_obj(callback))
    add_plan_command(group)
    commands = EngineCommands(engine, group, max_workers)
    commands.add_all()
    return cli, group, commands


def add_plan_command(group: click.Group) -> None:
    @group.command(help="Print the engine-neutral plan of this flow as JSON.")
    @click.pass_obj
    def plan(obj):
        click.echo(json.dumps(to_dict(plan_from_obj(obj)), indent=2, sort_keys=True, default=str))
