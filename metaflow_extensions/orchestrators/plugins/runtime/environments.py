"""@conda/@pypi steps on a worker: the task builds its step's environment and runs the step in it.

What Metaflow's Argo Workflows integration does in a step's container
(``CondaEnvironment.bootstrap_commands`` and ``executable``, metaflow/plugins/pypi): Metaflow's
own bootstrap (``python -m metaflow.plugins.pypi.bootstrap FLOW ENV_ID DATASTORE``), run in the
unpacked code package, reads the environment's manifest from the package, fetches the packages
the deploy cached in the datastore and creates the environment under ``<arch>/<env id>``; the
step then runs with that environment's ``python -s``. The bootstrap needs ``micromamba`` on the
worker's PATH (or internet access to download it).

The bootstrap moves the manifest out of the package it runs in, so each task works in a copy
of its own, in the task's working directory (a fresh one per task on both engines), never in
the unpacked package that the worker's tasks share (code_package.bootstrap_lines).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from typing import Dict, List

from .launcher import Command, LaunchError, top_option

BOOTSTRAP = "metaflow.plugins.pypi.bootstrap"
COPY = "metaflow-code"  # the task's own copy of the code package, in its working directory


def architecture() -> str:
    """Where the bootstrap puts the environment: its own platform mapping
    (metaflow/plugins/pypi/bootstrap.py ``__main__``; Argo's ``MF_ARCH`` line is the same)."""
    system, machine = platform.system().lower(), platform.machine().lower()
    if system == "darwin":
        return "osx-arm64" if machine == "arm64" else "osx-64"
    return "linux-aarch64" if (system, machine) == ("linux", "aarch64") else "linux-64"


def bootstrap_argv(flow_name: str, env_id: str, datastore: str) -> List[str]:
    return [sys.executable, "-m", BOOTSTRAP, flow_name, env_id, datastore]


def interpreter(work: str, env_id: str) -> List[str]:
    """The environment's interpreter; ``-s`` keeps the user's site-packages out, as Argo runs it."""
    return [os.path.join(work, architecture(), env_id, "bin", "python"), "-s"]


def package_env(work: str) -> Dict[str, str]:
    """The variables that make the copy importable (``MetaflowPackage.get_post_extract_env_vars``
    for the package's metadata, which the task has in METAFLOW_CODE_METADATA)."""
    from metaflow.package import MetaflowPackage

    metadata = os.environ.get("METAFLOW_CODE_METADATA") or json.dumps({"mfcontent_version": 1})
    env: Dict[str, str] = {}
    for name, value in MetaflowPackage.get_post_extract_env_vars(metadata, work).items():
        if name.endswith(":"):
            env[name[:-1]] = value
        else:
            env[name] = os.pathsep.join(p for p in (value, os.environ.get(name)) if p)
    return env


def enter(spec: Dict, command: Command, cwd: str) -> Command:
    """Build the step's environment in ``cwd`` and return the step's command run in it."""
    root = os.environ.get("METAFLOW_EXTRACTED_ROOT")
    if not root:
        raise LaunchError("@conda/@pypi step %r runs from the code package, which this task has not unpacked"
                          % spec.get("step"))
    work = os.path.join(cwd, COPY)
    if not os.path.isdir(work):
        shutil.copytree(root, work, symlinks=True)
    env = package_env(work)
    env_id, datastore = spec["conda_env"], top_option(spec.get("top") or (), "datastore") or "local"
    print("Bootstrapping the @conda/@pypi environment %s of step %s ..." % (env_id, spec["step"]), flush=True)
    code = subprocess.call(bootstrap_argv(spec["flow_name"], env_id, datastore), cwd=work,
                           env=dict(os.environ, DISABLE_TRACING="True", **env))
    if code != 0:
        raise LaunchError("Metaflow's bootstrap of the environment %s failed (exit %d): see the lines above; the "
                          "worker needs micromamba on its PATH or internet access to fetch it" % (env_id, code))
    env["PATH"] = os.pathsep.join((os.environ.get("PATH", ""), os.path.join(work, "micromamba", "bin")))
    flow = os.path.join(work, os.path.relpath(spec["flow"], root))
    return Command(argv=interpreter(work, env_id) + [flow] + command.argv[2:], env=dict(command.env, **env),
                   files=command.files)
