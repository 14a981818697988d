"""@conda/@pypi steps (runtime/environments.py, engine.check_environments).

This machine has no micromamba and no conda channel, so a @conda/@pypi flow cannot be deployed
here: Metaflow's deploy solves every environment with micromamba. What runs here, for real:
the refusals that need no solve, and a task's bootstrap up to the missing tool — Metaflow's own
bootstrap, run from a real code package of ours with an environment manifest as a deploy would
add it, finds the manifest and fails only where it would fetch micromamba.
"""
import json
import os
import subprocess
import sys

import pytest

from metaflow_extensions.orchestrators.plugins.runtime import environments
from metaflow_extensions.orchestrators.plugins.runtime.launcher import Command, LaunchError

PYPI_FLOW = '''
from metaflow import FlowSpec, pypi, step


class PypiFlow(FlowSpec):
    @pypi(packages={"six": "1.16.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PypiFlow()
'''

PLAIN_FLOW = PYPI_FLOW.replace('    @pypi(packages={"six": "1.16.0"})\n', "").replace(", pypi", "")


def _compile(tmp_path, source, *args):
    (tmp_path / "flow.py").write_text(source)
    env = dict(os.environ, USERNAME="dev", METAFLOW_DATASTORE_SYSROOT_LOCAL=str(tmp_path / "ds"))
    return subprocess.run([sys.executable, "flow.py", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("engine,out", [("kestra", "flow.yaml"), ("windmill", "flow.json")])
def test_a_local_datastore_is_refused_before_any_solve(tmp_path, engine, out):
    done = _compile(tmp_path, PYPI_FLOW, "--environment=pypi", engine, "compile", out)
    assert done.returncode != 0
    assert "need a remote datastore (--datastore=s3)" in done.stderr, done.stderr
    assert "Micromamba" not in done.stderr  # refused before Metaflow tries to solve
    assert not (tmp_path / out).exists()


def test_no_code_package_is_refused(tmp_path):
    done = _compile(tmp_path, PYPI_FLOW, "--environment=pypi", "kestra", "compile", "--no-code-package", "f.yaml")
    assert done.returncode != 0
    assert "the @conda/@pypi steps (" in done.stderr and "drop --no-code-package" in done.stderr, done.stderr


def test_the_environment_lies_where_metaflows_bootstrap_creates_it():
    # bootstrap.py `__main__`: prefix = <cwd>/<architecture>/<id>; Argo runs `$MF_ARCH/<id>/bin/python -s`.
    assert environments.interpreter("/w", "abc") == ["/w/%s/abc/bin/python" % environments.architecture(), "-s"]
    assert environments.architecture() in ("linux-64", "linux-aarch64", "osx-64", "osx-arm64")


@pytest.fixture
def unpacked(tmp_path):
    """A real code package of ours (a plain flow's, deployed to a local datastore), unpacked as
    a task unpacks it, plus the manifest a @pypi deploy adds to it (Metaflow's
    CondaEnvironment.add_to_package: OTHER_CONTENT, i.e. `.mf_meta/`)."""
    done = _compile(tmp_path, PLAIN_FLOW, "kestra", "compile", "flow.yaml")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "flow.yaml").read_text()
    url = next(line.split(": ", 1)[1] for line in text.splitlines() if "METAFLOW_CODE_URL:" in line)
    root = tmp_path / "package"
    root.mkdir()
    subprocess.run(["tar", "-xzf", url.strip(), "-C", str(root)], check=True)
    manifest = {"env0123": {environments.architecture(): {"conda": []}}}
    (root / ".mf_meta" / "conda.manifest").write_text(json.dumps(manifest))
    return root


def test_a_task_runs_metaflows_bootstrap_in_its_own_copy(unpacked, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("METAFLOW_EXTRACTED_ROOT", str(unpacked))
    monkeypatch.setenv("METAFLOW_CODE_METADATA", json.dumps({"archive_format": "tgz", "mfcontent_version": 1}))
    monkeypatch.setenv("METAFLOW_CONDA_PACKAGE_S3ROOT", "s3://nowhere/conda")  # no package to fetch
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + ":/usr/bin:/bin")  # surely no micromamba
    task_dir = tmp_path / "task"
    task_dir.mkdir()
    spec = {"step": "start", "flow_name": "PypiFlow", "conda_env": "env0123", "flow": str(unpacked / "flow.py"),
            "top": ["--datastore=s3"]}
    with pytest.raises(LaunchError, match="bootstrap of the environment env0123 failed.*micromamba"):
        environments.enter(spec, Command(argv=["python", spec["flow"], "step", "start"], env={}), str(task_dir))
    # Metaflow's bootstrap ran from the task's copy of the package (its Metaflow, the flow's name,
    # the environment id): it moved the manifest out of that copy, and stopped at micromamba.
    copy = task_dir / environments.COPY
    assert (copy / ".metaflow" / "PypiFlow" / "conda.manifest").exists()
    assert not (copy / ".mf_meta" / "conda.manifest").exists()
    assert (unpacked / ".mf_meta" / "conda.manifest").exists()  # the shared package is untouched
    assert "Failed to download micromamba" in capfd.readouterr().err


def test_without_the_package_a_conda_step_says_so(monkeypatch, tmp_path):
    monkeypatch.delenv("METAFLOW_EXTRACTED_ROOT", raising=False)
    spec = {"step": "start", "flow_name": "PypiFlow", "conda_env": "x", "flow": "flow.py", "top": []}
    with pytest.raises(LaunchError, match="runs from the code package"):
        environments.enter(spec, Command(argv=["python", "flow.py"], env={}), str(tmp_path))
