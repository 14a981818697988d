"""The Kestra emulator gives a Process-runner task the worker's environment, as Kestra's
ProcessBuilder does, but nothing of the emulator's own secrets (issue 18, item 7)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulators", "kestra"))

from kestra_helpers import PROCESS, Client, flow  # noqa: E402


def test_tasks_never_see_the_emulators_password(monkeypatch):
    from metaflow_orchestrators.emulators.kestra import start

    monkeypatch.setenv("KESTRA_EMULATOR_PASSWORD", "pw-Secret-123")
    monkeypatch.setenv("SOME_COPY_OF_IT", "pw-Secret-123")
    monkeypatch.setenv("AN_ORDINARY_SETTING", "visible-value")
    with start(version=2, username="admin@example.com", password="pw-Secret-123") as kestra:
        client = Client(kestra.url, auth=("admin@example.com", "pw-Secret-123"))
        client.deploy_ok(flow("envdump", """
tasks:
  - id: dump
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    commands: ["env"]
""" % PROCESS))
        exe = client.run("conformance", "envdump")
        text = "\n".join(e["message"] for e in client.logs(exe["id"]))
        client.close()
    assert exe["state"]["current"] == "SUCCESS"
    assert "AN_ORDINARY_SETTING=visible-value" in text  # the worker's environment is inherited
    assert "pw-Secret-123" not in text and "KESTRA_EMULATOR_PASSWORD" not in text
