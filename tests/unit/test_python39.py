"""The package promises Python >= 3.9: no newer syntax or standard-library API anywhere."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_everything_runs_on_python_39():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from vermin.main import main; sys.exit(main())", "--no-tips", "-t=3.9-", "--eval-annotations", "--backport", "dataclasses",
         "--violations", "metaflow_extensions", "metaflow_orchestrators", "examples", "tests", "benchmarks"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
