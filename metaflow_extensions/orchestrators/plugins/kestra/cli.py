"""``python flow.py kestra ...``: the shared commands (``..cli_common``: compile, create,
run, trigger, status, list-runs, terminate, logs, send-event) plus Kestra's own resume
(Kestra restart)."""
from __future__ import annotations

from metaflow._vendor import click

from ..cli_common import engine_cli, write_json
from .backend import ENGINE

cli, kestra, commands = engine_cli(ENGINE, max_workers=16)


@kestra.command(help="Resume a failed run: re-run its failed steps in place (Kestra restart); "
                      "successful steps keep their results and the Metaflow run id stays the same.")
@commands.connection
@click.option("--clone-run-id", required=True, help="The run to resume (Metaflow run id or Kestra execution id).")
@commands.wait_opts
@click.pass_obj
@commands.errors
def resume(obj, clone_run_id, wait=False, max_wait=None, deployer_attribute_file=None, **kw):
    execution_id = ENGINE.engine_run_id(clone_run_id)
    with ENGINE.connection(kw).client() as client:
        execution = client.restart(execution_id)
        pathspec = "%s/%s" % (obj.flow.name, ENGINE.run_id(execution["id"]))
        if deployer_attribute_file:
            write_json(deployer_attribute_file, {"name": execution.get("flowId", ""),
                                                 "metadata": obj.metadata.metadata_str(), "pathspec": pathspec})
        obj.echo("Run *%s* resumed on Kestra (execution %s restarted)." % (pathspec, execution["id"]), bold=True)
        if wait:
            commands.wait(obj, client, execution["id"], max_wait)
