"""What every engine's CLI group shares: building the plan from Metaflow's objects."""
from __future__ import annotations

import json

from metaflow._vendor import click

from .plan import build_plan
from .plan.serialize import to_dict


def plan_from_obj(obj, tags=()):
    """The plan of the flow Metaflow's CLI has loaded (decorators initialised)."""
    return build_plan(obj.flow, obj.graph, environment_type=obj.environment.TYPE, tags=tags)


def engine_cli(engine: str, title: str):
    """The ``cli`` object Metaflow registers (a vendored-click group holding exactly one
    group, named after the engine) and that engine group, for commands to be added to."""

    @click.group()
    def cli():
        pass

    @cli.group(name=engine, help="Commands related to %s." % title)
    @click.pass_obj
    def group(obj):
        obj.check(obj.graph, obj.flow, obj.environment, pylint=obj.pylint)

    add_plan_command(group)
    return cli, group


def add_plan_command(group: click.Group) -> None:
    @group.command(help="Print the engine-neutral plan of this flow as JSON.")
    @click.pass_obj
    def plan(obj):
        click.echo(json.dumps(to_dict(plan_from_obj(obj)), indent=2, sort_keys=True, default=str))
