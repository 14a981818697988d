"""Kestra's Docker task runner on a real server (`--task-runner docker --image …`).

Runs only against a Kestra that can start containers: docker-compose.yml's `--profile s3`
(Kestra 1.3 on port 8090, MinIO, the image `mfo-worker:local`). Set KESTRA_HOST to it,
KESTRA_DOCKER_IMAGE=mfo-worker:local, and the S3 datastore variables the README lists; then
`make test-real`. Skipped everywhere else: no Docker engine runs on the CI machines, where the
Docker runner is checked by the real engines' validator only (test_kestra_compile.py).
"""
import os
import subprocess
import sys

import pytest

from shipped_flows import HELPER, TWO_MODULE_FLOW

pytestmark = [
    pytest.mark.real_kestra,
    pytest.mark.skipif(not (os.environ.get("KESTRA_HOST") and os.environ.get("KESTRA_DOCKER_IMAGE")),
                       reason="needs KESTRA_HOST and KESTRA_DOCKER_IMAGE: a Kestra that runs Docker tasks"),
]


def test_a_two_module_flow_runs_in_containers_of_the_worker_image(tmp_path):
    from metaflow import Run, namespace

    (tmp_path / "helper.py").write_text(HELPER)
    (tmp_path / "flow.py").write_text(TWO_MODULE_FLOW)
    id_file = tmp_path / "run-id"
    done = subprocess.run(
        [sys.executable, "flow.py", "--no-pylint", "kestra", "run", "--task-runner", "docker",
         "--image", os.environ["KESTRA_DOCKER_IMAGE"], "--run-param", "n=4", "--run-id-file", str(id_file),
         "--wait"], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    namespace(None)
    run = Run("TwoModuleFlow/%s" % id_file.read_text().strip())
    assert run.successful and run["join"].task.data.total == 12
    # Metaflow and the helper came from the code package unpacked in the container.
    metaflow_file, _, helper_file = run["start"].task.data.files
    assert "/.mf_code/metaflow/" in metaflow_file
    assert str(tmp_path) not in metaflow_file and str(tmp_path) not in helper_file
