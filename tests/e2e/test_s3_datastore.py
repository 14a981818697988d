"""The code package and the artifacts travel through S3: a real S3-compatible server on
loopback (S3Proxy, tests/s3server.py), the flow deployed with Metaflow's S3 datastore from a
directory deleted before the run, on each emulator. The tasks reach S3 with the worker's
environment (on Windmill, through WHITELIST_ENVS, as a real Windmill worker would)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _TESTS)
import s3server  # noqa: E402
from shipped_flows import HELPER, TWO_MODULE_FLOW as FLOW  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("s3")]



@pytest.fixture(scope="module")
def s3():
    if os.environ.get("MFO_TEST_S3_ROOT"):  # the session's, started with the real engine (conftest.py)
        yield s3server.S3Server(os.environ["METAFLOW_S3_ENDPOINT_URL"], os.environ["MFO_TEST_S3_ROOT"])
        return
    try:
        server_cm = s3server.start()
        server = server_cm.__enter__()
    except (FileNotFoundError, subprocess.CalledProcessError) as ex:
        pytest.skip("no S3 server: %s" % ex)
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())  # the Kestra emulator's tasks inherit its process environment
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server_cm.__exit__(None, None, None)


@pytest.fixture(scope="module", params=["kestra2", "windmill", pytest.param("real", marks=[
    pytest.mark.real_kestra,
    pytest.mark.skipif(not os.environ.get("MFO_TEST_S3_ROOT"), reason="no real Kestra started with an S3 server "
                                                                     "(pytest --real-kestra 1|2)")])])
def engine(request, s3):
    if request.param == "real":
        yield "kestra", {"KESTRA_HOST": os.environ["KESTRA_HOST"], "KESTRA_USER": os.environ.get("KESTRA_USER", ""),
                         "KESTRA_PASSWORD": os.environ.get("KESTRA_PASSWORD", "")}
        return
    if request.param == "windmill":
        from metaflow_orchestrators.emulators.windmill import start

        with start(token="s3-token", workspace="s3", whitelist_env=sorted(s3.env())) as handle:
            yield "windmill", {"WINDMILL_HOST": handle.url, "WINDMILL_TOKEN": "s3-token", "WINDMILL_WORKSPACE": "s3"}
        return
    from metaflow_orchestrators.emulators.kestra import start

    with start(version=int(request.param[-1]), username="u@example.com", password="s3-Pass-1") as handle:
        yield "kestra", {"KESTRA_HOST": handle.url, "KESTRA_USER": "u@example.com", "KESTRA_PASSWORD": "s3-Pass-1"}


def _env(s3, server_env, tmp_path):
    return {**os.environ, **s3.env(), **server_env, "METAFLOW_DEFAULT_DATASTORE": "s3",
            "METAFLOW_DATASTORE_SYSROOT_S3": "s3://%s/metaflow" % s3server.BUCKET}


def test_package_and_artifacts_travel_through_s3(engine, s3, tmp_path):
    name, server_env = engine
    env = _env(s3, server_env, tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    (src / "helper.py").write_text(HELPER)
    # A flow name of its own (the local datastore must hold nothing of it) and a package of its own.
    (src / "two_module.py").write_text(FLOW.replace("TwoModuleFlow", "S3Flow") + "# deployed from %s\n" % tmp_path.name)
    out = tmp_path / "doc.txt"
    for args in (["create"], ["compile", str(out)]):
        proc = subprocess.run([sys.executable, str(src / "two_module.py"), "--no-pylint", name, *args],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert "s3://%s/metaflow/S3Flow/data/" % s3server.BUCKET in out.read_text()
    shutil.rmtree(src)

    # Started from a stub rebuilt from the deployment, in a fresh process with the same settings.
    script = ("import json, sys\nfrom metaflow import DeployedFlow\n"
              "run = DeployedFlow.from_%s('S3Flow').trigger()\n"
              "status = run.wait_for_completion(check_interval=1, timeout=300)\n"
              "print(json.dumps([status, run.run.id, run.run['join'].task.data.total]))\n" % name)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    status, run_id, total = json.loads(proc.stdout.strip().splitlines()[-1])
    assert status == "SUCCEEDED" and total == 6

    flow_root = os.path.join(s3.root, s3server.BUCKET, "metaflow", "S3Flow")
    assert os.path.isdir(os.path.join(flow_root, run_id, "join")), "the run's artifacts are not in S3"
    packages = [f for d, _, fs in os.walk(os.path.join(flow_root, "data")) for f in fs]
    assert packages, "the code package is not in S3"
    # Local metadata, but no data of the flow in the local datastore.
    local = os.path.join(os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"], ".metaflow", "S3Flow")
    assert not os.path.exists(os.path.join(local, "data"))
