"""The launcher's ``--input-paths``/``--split-index`` equal what Metaflow's own local
runtime used, for every task of every shape.

Ground truth: ``python flow.py run`` with METAFLOW_DEBUG_SUBCOMMAND=1 prints each step
command Metaflow launched. The runtime values the launcher needs (foreach width, switch
branch, loop iterations) are read from the local run's own artifacts, the way an engine
reads them from task reports.
"""
import pytest

import flowrunner as fr
from metaflow_extensions.orchestrators.plugins.plan import Foreach, iter_blocks, iter_steps
from metaflow_extensions.orchestrators.plugins.runtime import ids
from metaflow_extensions.orchestrators.plugins.runtime.launcher import RuntimeValues, input_paths
from metaflow_extensions.orchestrators.plugins.runtime.spec import step_spec

SHAPES = [
    "linear", "branch", "nested_split", "foreach", "nested_foreach", "split_in_foreach",
    "foreach_in_split", "switch", "switch_in_foreach", "switch_end_of_foreach", "foreach_in_switch",
    "branch_in_switch", "switch_in_branch", "recursive_switch", "custom_names", "decorators", "switch_skip",
    "recursive_in_foreach",
]


def _foreach_heads(plan):
    """join step -> foreach step it closes."""
    return {b.join: b.head.name for b in iter_blocks(plan.root) if isinstance(b, Foreach)}


def _ground_truth(plan, local):
    tasks = fr.tasks_by_position(plan.flow_name, local.run_id)
    by_local_id = {(step, t.id): (step, pos) for (step, pos), t in tasks.items()}
    branches, loops = {}, {}
    for (step, (path, iteration)), task in sorted(tasks.items(), key=lambda kv: (kv[0][0], kv[0][1][0], kv[0][1][1] or 0)):
        if plan.step(step).kind.value == "split-switch":
            key = ids.position_key(step, path)
            branches[key] = task["_transition"].data[0][0]
            if iteration is not None:
                loops[key] = max(loops.get(key, 0), iteration)
    return tasks, by_local_id, branches, loops


def _our_id(plan, step, position):
    path, iteration = position
    return ids.task_id(path, iteration if plan.step(step).recursive else None)


@pytest.mark.e2e
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(n)) for n in SHAPES])
def test_input_paths_match_metaflow_local_runtime(name):
    plan = fr.load_plan(name)
    local = fr.local_run(name)
    tasks, by_local_id, branches, loops = _ground_truth(plan, local)
    joins = _foreach_heads(plan)
    deploy = fr.deploy_options(name)
    assert {t.step for t in local.tasks} <= {s.name for s in iter_steps(plan.root)}
    for lt in local.tasks:
        step, (path, iteration) = by_local_id[(lt.step, lt.task_id)]
        task = plan.step(step)
        width = None
        if task.inputs.kind == "foreach-join":
            width = tasks[(joins[step], (path, None))]["_foreach_num_splits"].data
        rt = RuntimeValues("e", path, iteration or 0, 0, width, branches, loops)
        ours, split_index = input_paths(step_spec(plan, task, deploy), rt)
        expected = []
        for p in lt.input_paths:
            _, parent_step, parent_tid = p.split("/")
            if parent_step == ids.PARAMS_STEP:
                expected.append((parent_step, ids.PARAMS_TASK_ID))
            else:
                expected.append((parent_step, _our_id(plan, *by_local_id[(parent_step, parent_tid)])))
        got = [tuple(p.split("/")[1:]) for p in ours]
        if task.inputs.kind == "join" or (task.inputs.kind == "foreach-join" and "cases" in str(task.inputs)):
            # Metaflow orders these by a set of parent steps (hash order): compare as sets.
            got, expected = sorted(got), sorted(expected)
        assert got == expected, "%s at %s" % (step, path)
        assert split_index == lt.split_index, "%s at %s" % (step, path)
