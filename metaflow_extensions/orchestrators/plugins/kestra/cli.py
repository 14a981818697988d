"""``python flow.py kestra ...``: the shared commands (``..cli_common``: compile, create,
run, trigger, status, list-runs, terminate, logs) plus Kestra's own: resume (Kestra
restart) and send-event (webhook triggers)."""
from __future__ import annotations

import json

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


@kestra.command(name="send-event", help="Publish an event: start every deployed flow of the namespace "
                                          "that has @trigger(event=NAME).")
@commands.connection
@click.argument("event_name")
@click.option("--payload", multiple=True, help="Payload field as key=value (repeatable).")
@click.option("--payload-json", default=None, help="The whole payload as a JSON object.")
@click.pass_obj
@commands.errors
def send_event(obj, event_name, payload, payload_json=None, **kw):
    from .events import publish

    body = json.loads(payload_json) if payload_json else {}
    for item in payload:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError("--payload expects key=value, got %r" % item)
        body[key] = value
    conn = ENGINE.connection(kw)
    with conn.client() as client:
        started = publish(client, conn.namespace, event_name, body)
    for fid, execution_id in started:
        obj.echo("Event *%s* started %s (run %s)." % (event_name, fid, ENGINE.run_id(execution_id)))
    if not started:
        obj.echo("No deployed flow in namespace %s listens for event %s." % (conn.namespace, event_name))
