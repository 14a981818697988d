"""``python flow.py kestra ...``: the Kestra command group."""
from metaflow._vendor import click

from ..cli_common import add_plan_command


@click.group()
def cli():
    pass


@cli.group(help="Commands related to Kestra (compile, create, trigger, ... arrive with the Kestra back end).")
@click.pass_obj
def kestra(obj):
    obj.check(obj.graph, obj.flow, obj.environment, pylint=obj.pylint)


add_plan_command(kestra)
