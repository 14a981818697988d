"""``python flow.py <engine> resume``: a new run that clones what the origin run did right.

Metaflow's semantics (metaflow.md §11): every task of the origin run that succeeded, outside
the step to re-run and the steps after it, is cloned into a NEW run (lineage recorded as
``origin-run-id``); the rest runs. Parameters come from the origin run. Values given on the
command line that differ from the origin's cannot apply to cloned tasks (later steps read
parameters from their parents), so the run then re-runs every step with them and says so.
An engine may add its own in-place restart (Kestra's ``--in-place``).
"""
from __future__ import annotations

import functools
import json
from typing import Any, Dict, Optional, Tuple

from metaflow import parameters
from metaflow._vendor import click

from .cli_common import plan_from_obj, project_options
from .engine import decorate
from .plan.transforms import with_branch
from .runtime.ids import PARAMS_STEP, PARAMS_TASK_ID
from .runtime.resume import ResumeRequest, check_run_id

RESUME_HELP = ("Resume a run into a new run, as Metaflow's resume does: tasks of the origin run that "
               "succeeded are cloned, not run again; the failed step and every step after it run. "
               "Parameters come from the origin run.")


def add_resume(commands) -> None:
    """Register ``resume`` on an engine's group (``commands``: its ``EngineCommands``)."""
    engine = commands.engine

    @commands.group.command(cls=GivenParametersCommand, help=RESUME_HELP)
    @commands.connection
    @functools.partial(decorate, options=project_options())
    @click.option("--clone-run-id", "--origin-run-id", "clone_run_id", required=True,
                  help="The run to resume: Metaflow run id (%s-...) or %s id." % (engine.name, engine.run_noun))
    @click.option("--step", "--step-to-rerun", "step", default=None,
                  help="Re-run from this step: it and every step after it run even where they succeeded.")
    @functools.partial(decorate, options=engine.resume_options())
    @commands.trigger_opts
    @click.pass_obj
    @commands.errors
    def resume(obj, clone_run_id, step=None, **kw):
        origin = engine.run_id(engine.engine_run_id(clone_run_id))
        if engine.resume_in_place_requested(kw):
            return engine.resume_in_place(obj, commands, origin, dict(kw, step=step))
        if step is not None and step not in obj.graph.nodes:
            raise ValueError("the flow has no step %r (steps: %s)" % (step, ", ".join(n.name for n in obj.graph)))
        plan = with_branch(plan_from_obj(obj), kw.get("branch"), kw.get("production"))
        inputs, request = resume_inputs(obj, check_run_id(origin), step, commands.inputs(obj, kw))
        commands.start(obj, engine.connection(kw), engine.deployment_name(plan, kw.get("name")), kw,
                       inputs=inputs, resume=request)


class GivenParametersCommand(click.Command):
    """A command whose flow-parameter options have no default and are never required, so
    the values it receives are only those given (resume compares them with the origin's;
    the vendored click 7 cannot tell a default from a given value).

    Metaflow's Deployer API would add the parameters again, required where the flow says so
    (``click_api.extract_command`` for commands with ``has_flow_params``), and refuse a resume
    that names none: so the Deployer passes them as ``--run-param`` (``deployer_objects``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        parameters.add_custom_parameters(deploy_mode=False)(self)
        self.has_flow_params = False
        for option in self.params:
            if option not in self.original_params:
                option.default, option.required = None, False


def resume_inputs(obj, origin: str, step: Optional[str], given: Dict[str, Any]
                  ) -> Tuple[Dict[str, Any], ResumeRequest]:
    """The new run's inputs (the origin's parameters, then the values given) and its request."""
    before = origin_parameters(obj, origin)
    changed = {name: (before.get(name), value) for name, value in given.items() if not same_value(before.get(name), value)}
    if changed:
        obj.echo("New parameter values (%s): Metaflow's resume takes parameters from the origin run and later "
                 "steps read them from their parents, so this run clones nothing and runs every step with them."
                 % ", ".join("%s: %r -> %r" % (n, old, new) for n, (old, new) in sorted(changed.items())))
    elif step:
        obj.echo("Resuming run %s from step %s: tasks before it that succeeded are cloned." % (origin, step))
    return dict(before, **given), ResumeRequest(origin, None if changed else step, bool(changed))


def origin_parameters(obj, origin: str) -> Dict[str, Any]:
    """The origin run's parameter values, from its ``_parameters`` task in the flow's datastore."""
    try:
        task = obj.flow_datastore.get_task_datastore(origin, PARAMS_STEP, PARAMS_TASK_ID)
        values = {}
        for var, param in obj.flow._get_parameters():
            if not getattr(param, "IS_CONFIG_PARAMETER", False) and var in task:
                values[param.name] = task[var]
        return values
    except Exception as ex:  # any datastore failure: one line, naming the run
        raise ValueError("cannot read run %s of %s from the Metaflow datastore (%s): is it a run of this flow, "
                         "and is this the datastore its tasks wrote to?" % (origin, obj.flow.name, ex))


def same_value(before: Any, given: Any) -> bool:
    """Whether a value given on resume is the origin's (JSON parameters may come as text)."""
    if isinstance(given, str) and not isinstance(before, str):
        try:
            given = json.loads(given)
        except ValueError:
            return False
    return before == given
