"""Run Metaflow's external orchestrator acceptance suite (PyPI ``metaflow-orchestrator-kit``,
its ``compliance`` tests, unmodified) against both back ends on their emulators, and print
the pass/skip/fail counts per engine. Exit status 1 if any kit test fails.

The kit's test flows live in Metaflow's source tree (``test/ux/core/flows``), which is not
published; ``tests/kit/flows`` holds our own flows written to the contract each kit test
states (file names, artifacts, configs). ``test_conda_packages_available`` is deselected:
it needs micromamba, which this machine does not have, and the kit (0.1.1) deploys it
without ``environment="conda"``, so no backend can pass it as written.

    python tests/kit/run_kit.py [--engine kestra|windmill] [-- extra pytest args]
"""
from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
FLOWS = os.path.join(HERE, "flows")
DESELECT = "not conda"


@contextlib.contextmanager
def kestra():
    from metaflow_orchestrators.emulators.kestra import start

    password = secrets.token_urlsafe(12)
    with start(version=2, username="kit@example.com", password=password) as server:
        yield ({"kestra_host": server.url},
               {"KESTRA_HOST": server.url, "KESTRA_USER": "kit@example.com", "KESTRA_PASSWORD": password,
                "KESTRA_NAMESPACE": "kit"})


@contextlib.contextmanager
def windmill():
    from metaflow_orchestrators.emulators.windmill import start

    token = secrets.token_urlsafe(12)
    with start(token=token, workspace="kit") as server:
        yield ({"windmill_host": server.url},
               {"WINDMILL_HOST": server.url, "WINDMILL_TOKEN": token, "WINDMILL_WORKSPACE": "kit"})


ENGINES = {"kestra": kestra, "windmill": windmill}


def kit_dir() -> str:
    import metaflow_orchestrator_kit

    return os.path.join(os.path.dirname(metaflow_orchestrator_kit.__file__), "compliance")


def run_engine(name: str, workdir: str, extra) -> dict:
    """The server goes in ``deploy_args`` (what the kit passes to ``create``) and in the
    environment, as a user would set it: the kit also builds a bare ``Deployer(...).<engine>()``
    for ``from_deployment``. Credentials only ever in the environment."""
    with ENGINES[name]() as (deploy_args, env_vars):
        deploy_args = dict(deploy_args, worker_python=sys.executable)
        config = os.path.join(workdir, "ux_%s.yaml" % name)
        with open(config, "w") as f:
            f.write("backends:\n  - name: %s\n    scheduler_type: %s\n    enabled: true\n    deploy_args:\n" % (name, name))
            for key, value in deploy_args.items():
                f.write("      %s: %r\n" % (key, value))
        report = os.path.join(workdir, "kit-%s.xml" % name)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KESTRA_", "WINDMILL_"))}
        env.update(env_vars)
        env.setdefault("METAFLOW_DATASTORE_SYSROOT_LOCAL", os.path.join(workdir, "datastore"))
        env.update(METAFLOW_DEFAULT_DATASTORE="local", METAFLOW_DEFAULT_METADATA="local",
                   USERNAME=env.get("USERNAME") or "kit")
        cmd = [sys.executable, "-P", "-m", "pytest", kit_dir(), "--ux-config", config, "--only-backend", name,
               "--exec-mode", "deployer", "-k", DESELECT, "-p", "no:cacheprovider", "-q", "-rs",
               "-W", "ignore::pytest.PytestUnknownMarkWarning",
               "--junitxml", report, "--rootdir", FLOWS] + list(extra)
        print("== orchestrator kit on %s: %s" % (name, " ".join(cmd[3:])), flush=True)
        subprocess.run(cmd, cwd=FLOWS, env=env)
    return counts(report)


def counts(report: str) -> dict:
    root = ET.parse(report).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    total, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    return {"passed": total - failures - errors - skipped, "failed": failures + errors, "skipped": skipped}


def main(argv) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    engines = [argv[argv.index("--engine") + 1]] if "--engine" in argv else list(ENGINES)
    with tempfile.TemporaryDirectory(prefix="mfo-kit-") as workdir:
        results = {name: run_engine(name, workdir, extra) for name in engines}
    for name, c in results.items():
        print("orchestrator kit (metaflow-orchestrator-kit compliance, deselected: %s) on %s: "
              "%d passed, %d skipped, %d failed" % (DESELECT, name, c["passed"], c["skipped"], c["failed"]))
    return 1 if any(c["failed"] for c in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
