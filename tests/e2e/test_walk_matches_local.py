"""The reference for every engine back end: the plan walked task by task with the
launcher's commands gives a successful Metaflow run whose artifacts equal those of
``python flow.py run``, task by task (matched by foreach position and loop iteration).
"""
import pytest

import flowrunner as fr

SHAPES = [
    "linear", "branch", "nested_split", "foreach", "nested_foreach", "split_in_foreach",
    "foreach_in_split", "switch", "switch_in_foreach", "switch_end_of_foreach",
    "foreach_in_switch", "branch_in_switch", "switch_in_branch", "recursive_switch",
    "custom_names", "single_step", "config_flow", "switch_skip",
    "recursive_in_foreach",
]


def _artifacts(flow_name, run_id):
    return {key: fr.user_artifacts(task) for key, task in fr.tasks_by_position(flow_name, run_id).items()}


@pytest.mark.e2e
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(n)) for n in SHAPES])
def test_walked_run_equals_local_run(name):
    plan = fr.load_plan(name)
    local = fr.local_run(name)
    walked = fr.walk(name)
    run = fr.client_run(plan.flow_name, walked)
    assert run.successful and run.finished
    expected = _artifacts(plan.flow_name, local.run_id)
    got = _artifacts(plan.flow_name, walked)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == expected[key], key


@pytest.mark.e2e
def test_trigger_time_parameters_reach_every_step():
    plan = fr.load_plan("linear")
    params = {"alpha": 7, "ratio": 2.5, "flag": True, "greeting": "it's \"quoted\" {{ not pebble }}",
              "config_json": {"k": [5]}, "max-items": 2}
    run = fr.client_run(plan.flow_name, fr.walk("linear", params=params))
    result = run.data.result
    assert (result["alpha"], result["ratio"], result["flag"], result["greeting"]) == (7, 2.5, True, params["greeting"])
    assert result["config_json"] == {"k": [5]} and result["max_items"] == 2
    assert run["end"].task.data.trace == ["start", "a", "b", "end"]
