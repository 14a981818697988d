"""docker-compose.yml cannot be run here (no Docker engine); what can be checked is checked:
it parses, each Kestra's embedded configuration parses after compose's `${VAR:-default}`
substitution, and the plugin defaults of the S3 profile name the task and runner types our
compiler emits (a renamed type would silently stop applying them)."""
import os
import re

import yaml

from metaflow_extensions.orchestrators.plugins.kestra import compiler

COMPOSE = os.path.join(os.path.dirname(__file__), "..", "..", "docker-compose.yml")


def _substitute(text):
    # Compose interpolation with the defaults; `$$` is a literal `$`.
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", text).replace("$$", "$")


def _services():
    with open(COMPOSE) as f:
        return yaml.safe_load(f)["services"]


def test_every_kestra_configuration_parses():
    found = 0
    for name, service in _services().items():
        text = (service.get("environment") or {}).get("KESTRA_CONFIGURATION")
        if text:
            config = yaml.safe_load(_substitute(text))
            assert "basic-auth" in config["kestra"]["server"], name
            found += 1
    assert found >= 3


def test_the_docker_profile_defaults_apply_to_what_we_compile():
    config = yaml.safe_load(_substitute(_services()["kestra-docker"]["environment"]["KESTRA_CONFIGURATION"]))
    defaults = {d["type"]: d["values"] for d in config["kestra"]["plugins"]["defaults"]}
    assert set(defaults) == {compiler.DOCKER_RUNNER, compiler.SHELL_TASK}
    assert defaults[compiler.DOCKER_RUNNER]["networkMode"] == "metaflow-orchestrators_default"
    env = defaults[compiler.SHELL_TASK]["env"]
    assert env["METAFLOW_S3_ENDPOINT_URL"] == "http://minio:9000" and env["AWS_ACCESS_KEY_ID"]
    runners = {c["type"]: c["values"] for c in config["kestra"]["plugins"]["configurations"]}
    assert runners[compiler.DOCKER_RUNNER] == {"volume-enabled": True}
    assert _services()["mfo-worker"]["image"] == "mfo-worker:local"
