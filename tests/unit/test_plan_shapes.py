"""build_plan on every example gives the expected tree (structure, not just "no error")."""
import pytest

import flowrunner as fr
from metaflow_extensions.orchestrators.plugins.plan import iter_steps
from metaflow_extensions.orchestrators.plugins.plan.serialize import outline

EXPECTED = {
    "linear": ["start", "a", "b", "end"],
    "branch": [{"split": "start", "branches": [["a1", "a2"], ["b1", "b2", "b3"]]}, "join", "end"],
    "nested_split": [{"split": "start", "branches": [
        [{"split": "left", "branches": [["left_x"], ["left_y"]]}, "inner_join", "left_done"], ["right"]]},
        "outer_join", "end"],
    "foreach": [{"foreach": "start", "body": ["body1", "body2"]}, "join", "end"],
    "nested_foreach": [{"foreach": "start", "body": [{"foreach": "level1", "body": [
        {"foreach": "level2", "body": ["level3"]}, "join3"]}, "join2"]}, "join1", "end"],
    "split_in_foreach": [{"foreach": "start", "body": [
        {"split": "body", "branches": [["left"], ["right"]]}, "branch_join"]}, "foreach_join", "end"],
    "foreach_in_split": [{"split": "start", "branches": [
        [{"foreach": "fan", "body": ["work"]}, "work_join"], ["lin_a", "lin_b"]]}, "outer_join", "end"],
    "switch": [{"switch": "start", "cases": {"short": ["s1"], "medium": ["m1", "m2"], "long": ["l1", "l2", "l3"]},
                "merge": "merge"}, "merge", "end"],
    "switch_in_foreach": [{"foreach": "start", "body": [{"switch": "body", "cases": {
        "even": ["even_step"], "odd": ["odd_a", "odd_b"]}, "merge": "merge"}, "merge"]}, "join", "end"],
    "switch_end_of_foreach": [{"foreach": "start", "body": [{"switch": "body", "cases": {
        "small": ["small"], "big": ["big"]}, "merge": "join"}]}, "join", "end"],
    "foreach_in_switch": [{"switch": "start", "cases": {
        "fanout": [{"foreach": "fan", "body": ["work"]}, "work_join"], "direct": ["direct"]}, "merge": "merge"},
        "merge", "end"],
    "branch_in_switch": [{"switch": "start", "cases": {
        "split": [{"split": "splitter", "branches": [["p"], ["q"]]}, "split_join"], "plain": ["plain"]},
        "merge": "merge"}, "merge", "end"],
    "switch_in_branch": [{"split": "start", "branches": [
        [{"switch": "decide", "cases": {"hi": ["hi_step"], "lo": ["lo_step"]}, "merge": "join"}], ["other"]]},
        "join", "end"],
    "recursive_switch": ["start", {"switch": "loop*", "cases": {"again": ["<loop>"], "done": []}, "merge": "end"}, "end"],
    "custom_names": ["begin", "middle", "finish"],
    "single_step": ["only"],
    "parallel_flow": [{"foreach": "start", "body": ["train"]}, "join", "end"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tree_shape(name):
    plan = fr.load_plan(name)
    assert outline(plan.root) == EXPECTED[name]
    names = [s.name for s in iter_steps(plan.root)]
    assert len(names) == len(set(names)), "a step placed twice"


def test_input_rules_of_joins_and_merges():
    branch = fr.load_plan("branch")
    assert branch.step("a1").inputs.kind == "linear" and branch.step("a1").inputs.tails[0].step == "start"
    join = branch.step("join").inputs
    assert join.kind == "join" and [t.step for t in join.tails] == ["a2", "b3"]

    nested = fr.load_plan("nested_foreach")
    assert [nested.step(s).foreach_depth for s in ("start", "level1", "level2", "level3", "join3", "join2", "join1", "end")] == [0, 1, 2, 3, 2, 1, 0, 0]
    assert nested.step("level3").inputs.kind == "foreach"
    assert nested.step("join3").inputs.kind == "foreach-join" and nested.step("join3").inputs.tails[0].step == "level3"

    switch = fr.load_plan("switch")
    merge_tail = switch.step("merge").inputs.tails[0]
    assert merge_tail.switch and merge_tail.step == "start"
    assert {target: t.step for target, t in merge_tail.cases} == {"s1": "s1", "m1": "m2", "l1": "l3"}

    end_of_foreach = fr.load_plan("switch_end_of_foreach").step("join").inputs
    assert end_of_foreach.kind == "foreach-join" and end_of_foreach.tails[0].switch

    loop = fr.load_plan("recursive_switch")
    assert loop.step("loop").recursive and not loop.step("start").recursive
    end_tail = loop.step("end").inputs.tails[0]
    assert end_tail.step == "loop" and end_tail.recursive and end_tail.cases == (("end", None),)


def test_parallel_foreach_is_marked_for_engines_to_reject():
    plan = fr.load_plan("parallel_flow")
    foreach = plan.root.blocks[0]
    assert foreach.num_parallel == 2 and plan.step("train").parallel


def test_engines_refuse_what_they_cannot_run_naming_the_step():
    from metaflow_extensions.orchestrators.plugins.plan import Capabilities, PlanError, require_supported

    plan = fr.load_plan("parallel_flow")
    with pytest.raises(PlanError) as err:
        require_supported(plan, Capabilities("Kestra"))
    assert "train" in str(err.value) and "because" in str(err.value)
    require_supported(plan, Capabilities("Anything", parallel=True))
    loop = fr.load_plan("recursive_switch")
    require_supported(loop, Capabilities("Windmill"))
    with pytest.raises(PlanError, match="loop"):
        require_supported(loop, Capabilities("Kestra", recursive_switch=False))
