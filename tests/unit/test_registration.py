"""`pip install .` makes both command groups and both Deployer providers appear for any flow."""
import subprocess
import sys

import pytest

import flowrunner as fr


@pytest.mark.parametrize("engine", ["kestra", "windmill"])
def test_command_group_is_registered(engine):
    out = fr.flow_command("linear", engine, "--help").stdout
    assert "plan" in out


@pytest.mark.parametrize("engine,title", [("kestra", "Kestra"), ("windmill", "Windmill")])
def test_deployer_provider_is_registered_and_reports_an_unreachable_server(engine, title, tmp_path):
    code = (
        "from metaflow import Deployer\n"
        "d = Deployer(%r).%s(%s_host='http://127.0.0.1:9')\n"
        "assert d.TYPE == %r\n"
        "try:\n    d.create()\nexcept RuntimeError as e:\n    print('failed:', e)\n"
    ) % (fr.example("linear"), engine, engine, engine)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "cannot reach %s at http://127.0.0.1:9" % title in proc.stdout + proc.stderr


def test_settings_come_from_plain_env_metaflow_env_or_defaults(tmp_path):
    code = ("from metaflow import metaflow_config as c\n"
            "print(c.KESTRA_HOST, c.WINDMILL_TOKEN, c.WINDMILL_HOST, c.KESTRA_NAMESPACE)")
    env = {**__import__("os").environ, "KESTRA_HOST": "http://k:1", "METAFLOW_WINDMILL_TOKEN": "tok"}
    env.pop("WINDMILL_HOST", None)
    env.pop("KESTRA_NAMESPACE", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["http://k:1", "tok", "http://localhost:8000", "metaflow"]
