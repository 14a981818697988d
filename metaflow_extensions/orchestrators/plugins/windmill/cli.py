"""``python flow.py windmill ...``: the Windmill command group (arriving)."""
from metaflow._vendor import click

from ..cli_common import add_plan_command


@click.group()
def cli():
    pass


@cli.group(help="Commands related to Windmill (compile, create, trigger, ... arrive with the Windmill back end).")
def windmill():
    pass


add_plan_command(windmill)
