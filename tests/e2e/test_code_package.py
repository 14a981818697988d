"""The flow reaches the workers as Metaflow's code package, not by path (code_package.py).

A two-module flow is deployed from a temporary copy of its directory that is deleted
before the run starts: every task fetches the package from the datastore into its own
working directory and runs Metaflow, this extension and the flow's helper module from it.
"""
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from metaflow_extensions.orchestrators.plugins import package_reuse
from shipped_flows import HELPER, TWO_MODULE_FLOW as FLOW

pytestmark = [pytest.mark.e2e]

# Where CI time limits a target (tests/e2e/engines.py subset): the case that shows the most.
REAL_CASES = {"test_a_flow_whose_directory_is_gone_runs_from_its_code_package"}


# Metaflow's own runtime dependencies (its setup.py `install_requires`: requests, boto3 for S3)
# and what they import; nothing of Metaflow or of this package.
RUNTIME_DEPS = ("requests", "urllib3", "idna", "charset_normalizer", "certifi")


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """An interpreter with only Metaflow's runtime dependencies: a venv without pip, the
    dependencies linked in from this interpreter's site-packages (no network)."""
    import importlib
    import sysconfig
    import venv

    root = tmp_path_factory.mktemp("bare-worker")
    venv.EnvBuilder(with_pip=False).create(str(root))
    python = root / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for name in RUNTIME_DEPS:
        module = importlib.import_module(name)
        os.symlink(os.path.dirname(module.__file__), os.path.join(site, name))
    probe = subprocess.run([str(python), "-c", "import metaflow"], capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'metaflow'" in probe.stderr, sysconfig.get_paths()
    return str(python)


def _copy(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "helper.py").write_text(HELPER)
    (src / "two_module.py").write_text(FLOW)
    return src


def _package_files():
    root = os.path.join(os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"], ".metaflow", "TwoModuleFlow", "data")
    return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns for d, _, fs in os.walk(root) for f in fs
            if not f.endswith("_meta")}  # the store's own record of each blob


def test_a_flow_whose_directory_is_gone_runs_from_its_code_package(target, tmp_path, monkeypatch):
    from metaflow import DeployedFlow, Run

    src = _copy(tmp_path)
    deployed = target.deployer(src / "two_module.py")
    shutil.rmtree(src)
    # Started without the flow file: the deployment rebuilt from what the engine stores.
    for key, value in target.server.env().items():
        monkeypatch.setenv(key, value)
    run = getattr(DeployedFlow, "from_%s" % target.engine)(deployed.name).trigger(n=4)
    assert run.wait_for_completion(check_interval=1, timeout=300) == "SUCCEEDED"
    done = Run("TwoModuleFlow/%s" % run.run.id)
    assert done["join"].task.data.total == 12
    # Metaflow, this extension and the helper module all came from the unpacked package.
    files = done["start"].task.data.files
    root = os.path.dirname(files[2])
    assert files[0] == os.path.join(root, ".mf_code", "metaflow", "__init__.py")
    assert files[1].startswith(os.path.join(root, ".mf_code", "metaflow_extensions") + os.sep)
    assert str(tmp_path) not in root


def test_a_worker_with_only_python_and_metaflows_dependencies_runs_the_flow(target, tmp_path, bare_python):
    """The worker's interpreter has neither Metaflow nor this package: both come from the
    code package (pitfalls A5/W10: no `pip install` per task, no shared checkout)."""
    from metaflow import Run

    src = _copy(tmp_path)
    run = target.deployer(src / "two_module.py", worker_python=bare_python).trigger(n=2)
    assert run.wait_for_completion(check_interval=1, timeout=300) == "SUCCEEDED"
    assert Run("TwoModuleFlow/%s" % run.run.id)["join"].task.data.total == 2


def test_the_package_is_stored_once_and_the_document_names_no_local_path(target, tmp_path):
    src = _copy(tmp_path)
    (src / "sub").mkdir()
    (src / "sub" / "extra.py").write_text("X = 1\n")
    for hidden in (".venv/lib", ".metaflow/x"):  # walked by nobody: Metaflow packages no hidden file
        (src / hidden).mkdir(parents=True)
        (src / hidden / "skipped.py").write_text("Y = 1\n")
    flow = src / "two_module.py"
    target.cli(flow, "create")
    stored = _package_files()
    names = set()
    for blob in stored:  # the flow's data directory also holds artifacts of earlier runs
        try:
            with tarfile.open(blob, "r:gz") as tar:
                names.update(tar.getnames())
        except tarfile.ReadError:
            continue
    assert {"two_module.py", "helper.py", "sub/extra.py"} <= names and not any("skipped" in n for n in names)
    target.cli(flow, "create")
    assert _package_files() == stored, "re-deploying an unchanged flow stored something new"
    out = tmp_path / "doc.txt"
    target.cli(flow, "compile", str(out))
    text = out.read_text()
    assert str(src) not in text and str(tmp_path) not in text
    assert "sha1sum -c" in text and "two_module.py" in text
    (src / "helper.py").write_text(HELPER + "# changed in %s\n" % tmp_path.name)  # unique: the store is shared
    target.cli(flow, "create")
    assert len(_package_files()) == len(stored) + 1, "a changed flow must store a new package"


def test_a_redeploy_of_an_unchanged_flow_reuses_the_package_metaflow_builds(target, tmp_path):
    """package_reuse.py: once its files are a few seconds old, an unchanged flow's package is
    read back from the datastore instead of packed again; it is the package Metaflow's own
    `package save` writes, byte for byte (same SHA-1), and a change gives a new one."""
    import hashlib
    import re
    import time

    src = _copy(tmp_path)
    flow = src / "two_module.py"
    time.sleep(max(0.0, package_reuse.RACY_SECONDS + 0.2 - (time.time() - os.stat(flow).st_ctime)))
    shas = []
    for i in range(2):
        out = tmp_path / ("doc%d.txt" % i)
        target.cli(flow, "compile", str(out))
        shas += re.findall(r"\b[0-9a-f]{40}\b", out.read_text())[:1]
    saved = tmp_path / "saved.tgz"
    proc = subprocess.run([sys.executable, str(flow), "--no-pylint", "package", "save", str(saved)],
                          capture_output=True, text=True, env=target.env(), cwd=str(src), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shas[0] == shas[1] == hashlib.sha1(saved.read_bytes()).hexdigest()
    cache = package_reuse.cache_dir()  # the tests' own (conftest): the second compile found it there
    assert shas[0] in [open(os.path.join(cache, f)).read() for f in os.listdir(cache) if not f.startswith(".")]
    (src / "helper.py").write_text(HELPER + "# changed\n")
    target.cli(flow, "compile", str(tmp_path / "doc2.txt"))
    assert shas[0] not in (tmp_path / "doc2.txt").read_text()
