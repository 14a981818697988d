"""``python flow.py windmill ...``: the Windmill command group."""
from metaflow._vendor import click

from ..cli_common import add_plan_command


@click.group()
def cli():
    pass


@cli.group(help="Commands related to Windmill (compile, create, trigger, ... arrive with the Windmill back end).")
@click.pass_obj
def windmill(obj):
    obj.check(obj.graph, obj.flow, obj.environment, pylint=obj.pylint)


add_plan_command(windmill)
