"""The code package's shell bootstrap (code_package.bootstrap_lines), run by bash on a real
archive: unpacked once into the worker's cache, its bytecode compiled there when the worker
forbids Python to write bytecode at import (PYTHONDONTWRITEBYTECODE, set in most container
images), so tasks do not compile Metaflow's sources again each time."""
import glob
import hashlib
import io
import marshal
import os
import subprocess
import sys
import tarfile

from metaflow_extensions.orchestrators.plugins.code_package import bootstrap_lines

MODULE = "def boom():\n    raise RuntimeError('from the package')\n"


def _archive(path):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, text in (("shipped", MODULE), ("unused", "VALUE = 1\n")):
            body = text.encode()
            info = tarfile.TarInfo(".mf_code/%s.py" % name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    path.write_bytes(data.getvalue())
    return hashlib.sha1(data.getvalue()).hexdigest()


def _bytecode(code_dir):
    return sorted(glob.glob(os.path.join(code_dir, ".mf_code", "__pycache__", "*.pyc")))


def _run_task(tmp_path, sha, archive, no_bytecode):
    script = "\n".join(bootstrap_lines() + [
        '"$MFO_PYTHON" -c "import shipped, traceback\ntry:\n    shipped.boom()\nexcept RuntimeError:\n'
        '    print(traceback.format_exc())"'])
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path), "MFO_PYTHON": sys.executable,
           "METAFLOW_CODE_URL": str(archive), "METAFLOW_CODE_SHA": sha, "METAFLOW_CODE_DS": "local"}
    if no_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bytecode_is_compiled_once_where_the_worker_writes_none(tmp_path):
    archive = tmp_path / "pkg.tgz"
    sha = _archive(archive)
    out = _run_task(tmp_path, sha, archive, no_bytecode=True)
    code_dir = glob.glob(str(tmp_path / "mfo-code-*" / sha))[0]
    compiled = _bytecode(code_dir)
    # The whole package, also what this task did not import.
    assert [os.path.basename(p).split(".")[0] for p in compiled] == ["shipped", "unused"]
    # Recorded under the directory the tasks import from, not the unpacking one it was moved from.
    with open(compiled[0], "rb") as f:
        code = marshal.loads(f.read()[16:])
    assert code.co_filename == os.path.join(code_dir, ".mf_code", "shipped.py")
    assert os.path.join(code_dir, ".mf_code", "shipped.py") in out and "from the package" in out
    # The next task finds the directory whole and compiles nothing again.
    before = os.stat(compiled[0]).st_mtime_ns
    _run_task(tmp_path, sha, archive, no_bytecode=True)
    assert os.stat(compiled[0]).st_mtime_ns == before and not glob.glob(str(tmp_path / "mfo-code-*" / "new.*"))


def test_a_worker_that_writes_bytecode_is_left_to_python(tmp_path):
    archive = tmp_path / "pkg.tgz"
    sha = _archive(archive)
    _run_task(tmp_path, sha, archive, no_bytecode=False)
    code_dir = glob.glob(str(tmp_path / "mfo-code-*" / sha))[0]
    # Only what the task imported got bytecode, written by Python itself at import.
    assert [os.path.basename(p).split(".")[0] for p in _bytecode(code_dir)] == ["shipped"]
