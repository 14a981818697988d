"""What every engine's CLI group shares: building the plan from Metaflow's objects."""
from __future__ import annotations

import json

from metaflow._vendor import click

from .plan import build_plan
from .plan.serialize import to_dict


def plan_from_obj(obj, tags=()):
    """The plan of the flow Metaflow's CLI has loaded (decorators initialised)."""
    return build_plan(obj.flow, obj.graph, environment_type=obj.environment.TYPE, tags=tags)


def engine_cli(engine: str, title: str, options=()):
    """The ``cli`` object Metaflow registers (a vendored-click group holding exactly one
    group, named after the engine) and that engine group, for commands to be added to.

    ``options`` (click decorators) go on the group: Metaflow's Deployer passes its
    keyword arguments there (``Deployer(f).kestra(name=...)``); commands read them back
    with ``group_options``."""

    @click.group()
    def cli():
        pass

    def callback(obj, **kwargs):
        obj.check(obj.graph, obj.flow, obj.environment, pylint=obj.pylint)
        obj.engine_options = kwargs

    for option in reversed(list(options)):
        callback = option(callback)
    group = cli.group(name=engine, help="Commands related to %s." % title)(click.pass_obj(callback))
    add_plan_command(group)
    return cli, group


def group_options(obj, command_kwargs):
    """A command's options over the group's: a value given to the command wins."""
    merged = dict(getattr(obj, "engine_options", None) or {})
    merged.update({k: v for k, v in command_kwargs.items() if v is not None or k not in merged})
    return merged


def add_plan_command(group: click.Group) -> None:
    @group.command(help="Print the engine-neutral plan of this flow as JSON.")
    @click.pass_obj
    def plan(obj):
        click.echo(json.dumps(to_dict(plan_from_obj(obj)), indent=2, sort_keys=True, default=str))
