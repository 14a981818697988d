"""Flowable tasks: Sequential, Parallel, ForEach (1.x), Loop (2.x), Switch, If
(kestra.md §3.3, §6). One emulator per version for the module."""
from __future__ import annotations

import pytest

from kestra_helpers import PROCESS, Emulator, flow, messages, runs, state_of, tree_messages, tree_runs


@pytest.fixture(scope="module")
def v1(tmp_path_factory):
    e = Emulator(1, str(tmp_path_factory.mktemp("k1")))
    yield e
    e.close()


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    e = Emulator(2, str(tmp_path_factory.mktemp("k2")))
    yield e
    e.close()


@pytest.fixture(scope="module", params=[1, 2])
def both(request, v1, v2):
    return v1 if request.param == 1 else v2


def deploy_run(emu, flow_id, body, inputs=None):
    emu.client.deploy_ok(flow(flow_id, body))
    return emu.client.run("conformance", flow_id, inputs)


def timed(task_id, seconds="0.4", indent=6):
    """A task that records its start/end times as outputs."""
    text = """
- id: %s
  type: io.kestra.plugin.scripts.python.Script
  taskRunner: %s
  script: |
    import json, time
    s = time.time(); time.sleep(%s); e = time.time()
    print("::" + json.dumps({"outputs": {"s": s, "e": e}}) + "::")""" % (task_id, PROCESS, seconds)
    return text.replace("\n", "\n" + " " * indent)


def rendezvous(task_id, directory, me, others, indent=6):
    """A task that announces itself and waits (<= 5 s) for the others: met only if concurrent."""
    text = """
- id: %s
  type: io.kestra.plugin.scripts.python.Script
  taskRunner: %s
  script: |
    import json, os, time
    d = %r
    open(os.path.join(d, "%s"), "w").close()
    deadline = time.time() + 5
    while not all(os.path.exists(os.path.join(d, o)) for o in %r) and time.time() < deadline:
        time.sleep(0.02)
    met = all(os.path.exists(os.path.join(d, o)) for o in %r)
    print("::" + json.dumps({"outputs": {"met": met}}) + "::")""" % (task_id, PROCESS, str(directory), me, others, others)
    return text.replace("\n", "\n" + " " * indent)


def overlap(a, b):
    return a["s"] < b["e"] and b["s"] < a["e"]


def test_parallel_runs_children_concurrently_and_sequential_in_order(v1, tmp_path):
    body = """
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: branch_a
        type: io.kestra.plugin.core.flow.Sequential
        tasks:%s%s
      - id: branch_b
        type: io.kestra.plugin.core.flow.Sequential
        tasks:%s
""" % (rendezvous("a1", tmp_path, "a1", ["b1"], 10), timed("a2", indent=10),
       rendezvous("b1", tmp_path, "b1", ["a1"], 10))
    exe = deploy_run(v1, "par_seq", body)
    assert exe["state"]["current"] == "SUCCESS"
    out = {t["taskId"]: t["outputs"]["vars"] for t in exe["taskRunList"] if t.get("outputs")}
    assert out["a1"]["met"] and out["b1"]["met"]  # Parallel: children run together
    a1 = [t for t in exe["taskRunList"] if t["taskId"] == "a1"][0]["state"]["histories"][-1]["date"]
    a2 = [t for t in exe["taskRunList"] if t["taskId"] == "a2"][0]["state"]["histories"][0]["date"]
    assert a1 <= a2  # Sequential: a2 is created only after a1 ended
    par = runs(exe, "par")[0]
    assert runs(exe, "branch_a")[0]["parentTaskRunId"] == par["id"]


def test_parallel_concurrent_limit(v1):
    body = """
tasks:
  - id: par1
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 1
    tasks:%s%s
""" % (timed("c1", "0.2", 6), timed("c2", "0.2", 6))
    exe = deploy_run(v1, "par_limit", body)
    out = {t["taskId"]: t["outputs"]["vars"] for t in exe["taskRunList"] if t.get("outputs")}
    assert not overlap(out["c1"], out["c2"])


def test_foreach_values_outputs_keyed_by_value(v1):
    body = """
tasks:
  - id: gen
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    commands: ['echo ''::{"outputs":{"items":[0,1,2,1]}}::''']
  - id: fe
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ outputs.gen.vars.items }}"
    concurrencyLimit: 0
    tasks:
      - id: body_a
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner: %s
        env: {V: "{{ taskrun.value }}"}
        commands: ['echo "::{\\"outputs\\":{\\"sq\\":$((V*V))}}::"']
      - id: body_b
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.body_a[taskrun.value].vars.sq }}/{{ currentEachOutput(outputs.body_a).vars.sq }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.body_a['2'].vars.sq }} {{ outputs.body_b | keys }}"
""" % (PROCESS, PROCESS)
    exe = deploy_run(v1, "foreach_basic", body)
    assert exe["state"]["current"] == "SUCCESS", messages(v1.client, exe["id"])
    # De-duplicated, stringified values (kestra.md §6.1).
    assert sorted(t["value"] for t in runs(exe, "body_a")) == ["0", "1", "2"]
    assert {t["value"]: t["outputs"]["value"] for t in runs(exe, "body_b")} == {"0": "0/0", "1": "1/1", "2": "4/4"}
    assert sorted(runs(exe, "after")[0]["outputs"]["value"].split(" ")[1].strip("[]").split(",")) == ['"0"', '"1"', '"2"']
    assert runs(exe, "after")[0]["outputs"]["value"].startswith("4 ")


def test_foreach_sibling_without_value_fails_strict(v1):
    body = """
tasks:
  - id: fe2
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a"]
    tasks:
      - id: s1
        type: io.kestra.plugin.core.debug.Return
        format: x
      - id: s2
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.s1.value }}"
"""
    exe = deploy_run(v1, "foreach_strict", body)
    assert exe["state"]["current"] == "FAILED"  # outputs.s1 is keyed by value (kestra-io/kestra#7625)


def test_foreach_literal_list_types(v1):
    body = """
tasks:
  - id: fe3
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, "b", {k: v}]
    tasks:
      - id: show
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"""
    exe = deploy_run(v1, "foreach_list", body)
    assert sorted(t["value"] for t in runs(exe, "show")) == sorted(["1", "b", '{"k":"v"}'])
    bad = body.replace('[1, "b", {k: v}]', "[1.5, true]").replace("fe3", "fe4").replace("show", "show2")
    exe = deploy_run(v1, "foreach_badlist", bad)
    assert exe["state"]["current"] == "FAILED"
    assert any("Unknown value element type" in m for m in messages(v1.client, exe["id"]))


def test_foreach_default_concurrency_is_one_and_zero_is_unlimited(v1, tmp_path):
    def body(fid, limit):
        return """
tasks:
  - id: %s
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    %s
    tasks:%s
""" % (fid, limit, timed(fid + "_t", "0.3", 6))
    exe = deploy_run(v1, "fe_default", body("fed", ""))
    a, b = [t["outputs"]["vars"] for t in runs(exe, "fed_t")]
    assert not overlap(a, b)
    zero = """
tasks:
  - id: fez
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    concurrencyLimit: 0
    tasks:%s
""" % rendezvous("fez_t", tmp_path, "{{ taskrun.value }}", ["x", "y"], 6)
    exe = deploy_run(v1, "fe_zero", zero)
    assert all(t["outputs"]["vars"]["met"] for t in runs(exe, "fez_t"))


def test_nested_foreach_parent_and_parents(v1):
    body = """
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["o1", "o2"]
    concurrencyLimit: 0
    tasks:
      - id: mid
        type: io.kestra.plugin.core.flow.ForEach
        values: ["m1"]
        tasks:
          - id: inner
            type: io.kestra.plugin.core.flow.ForEach
            values: ["i1", "i2"]
            tasks:
              - id: leaf
                type: io.kestra.plugin.core.debug.Return
                format: "{{ parents[1].taskrun.value }}/{{ parent.taskrun.value }}/{{ taskrun.value }}"
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.leaf['o2']['m1']['i1'].value }}"
"""
    exe = deploy_run(v1, "nested_foreach", body)
    assert exe["state"]["current"] == "SUCCESS", messages(v1.client, exe["id"])
    assert sorted(t["outputs"]["value"] for t in runs(exe, "leaf")) == [
        "o1/m1/i1", "o1/m1/i2", "o2/m1/i1", "o2/m1/i2"]
    assert runs(exe, "read")[0]["outputs"]["value"] == "o2/m1/i1"


def test_loop_items_isolation_and_declared_outputs(v2):
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: '[{"i": 0}, {"i": 1}, {"i": 2}]'
    outputs:
      - {id: doubled, type: STRING, value: "{{ outputs.calc.vars.d }}"}
    tasks:
      - id: calc
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner: %s
        env: {I: "{{ fromJson(item.value).i }}", IDX: "{{ item.index }}"}
        commands: ['echo "::{\\"outputs\\":{\\"d\\":$((I*2)),\\"idx\\":$IDX}}::"']
      - id: sib
        type: io.kestra.plugin.core.log.Log
        message: "sibling sees {{ outputs.calc.vars.d }}"
  - id: join
    type: io.kestra.plugin.core.log.Log
    message: "joined {{ loopOutputs(outputs.loop.outputs, 'doubled') }} n={{ outputs.loop.iterationCount }}"
""" % PROCESS
    exe = deploy_run(v2, "loop_basic", body)
    assert exe["state"]["current"] == "SUCCESS", messages(v2.client, exe["id"])
    logs = tree_messages(v2.client, exe)  # iteration logs belong to the iteration executions
    assert sorted(m for m in logs if m.startswith("sibling")) == ["sibling sees 0", "sibling sees 2", "sibling sees 4"]
    assert 'joined ["0","2","4"] n=3' in logs
    assert runs(exe, "calc") == []  # the root execution does not list iteration task runs
    # 2.x: no outputs in taskRunList, the field is null (TaskRun.java@v2.0.0 @JsonInclude(ALWAYS);
    # case fix: it expected no key, the real 2.0.0 engine serializes the null)
    assert tree_runs(v2.client, exe, "calc")[0]["outputs"] is None


def test_loop_outputs_not_visible_after_loop_unless_declared(v2):
    body = """
tasks:
  - id: loop2
    type: io.kestra.plugin.core.flow.Loop
    values: [a, b]
    tasks:
      - id: inside
        type: io.kestra.plugin.core.debug.Return
        format: "{{ item.value }}"
  - id: peek
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.inside.value }}"
"""
    exe = deploy_run(v2, "loop_isolated", body)
    assert state_of(exe, "peek") == "FAILED"


def test_nested_loop_item_parent_and_concurrency_limit(v2):
    body = """
tasks:
  - id: lo
    type: io.kestra.plugin.core.flow.Loop
    values: [x, y]
    concurrencyLimit: 1
    tasks:
      - id: li
        type: io.kestra.plugin.core.flow.Loop
        values: [p, q]
        tasks:
          - id: leaf2
            type: io.kestra.plugin.core.log.Log
            message: "{{ item.parent.value }}-{{ item.parents[0].index }}-{{ item.value }}-{{ item.index }}"
"""
    exe = deploy_run(v2, "loop_nested", body)
    assert exe["state"]["current"] == "SUCCESS", messages(v2.client, exe["id"])
    assert sorted(tree_messages(v2.client, exe, "leaf2")) == ["x-0-p-0", "x-0-q-1", "y-1-p-0", "y-1-q-1"]


def test_loop_map_values_and_transmit_failed(v2):
    body = """
tasks:
  - id: lm
    type: io.kestra.plugin.core.flow.Loop
    values: {a: 1, b: 2}
    transmitFailed: false
    tasks:
      - id: maybe
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ item.key == 'b' }}"
        errorMessage: "no b"
  - id: after_loop
    type: io.kestra.plugin.core.log.Log
    message: "continued"
"""
    exe = deploy_run(v2, "loop_map", body)
    assert exe["state"]["current"] == "SUCCESS"
    assert state_of(exe, "after_loop") == "SUCCESS"
    assert sorted(t["state"]["current"] for t in tree_runs(v2.client, exe, "maybe")) == ["FAILED", "SUCCESS"]


def test_switch_cases_and_defaults(both):
    body = """
inputs:
  - {id: choice, type: STRING}
tasks:
  - id: sw
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.choice }}"
    cases:
      left:
        - {id: left, type: io.kestra.plugin.core.debug.Return, format: L}
      right:
        - {id: right, type: io.kestra.plugin.core.debug.Return, format: R}
    defaults:
      - {id: other, type: io.kestra.plugin.core.debug.Return, format: D}
  - id: merge
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.left.value ?? outputs.right.value ?? outputs.other.value }}"
"""
    both.client.deploy_ok(flow("switch", body))
    for choice, ran, merged in (("left", "left", "L"), ("right", "right", "R"), ("zzz", "other", "D")):
        exe = both.client.run("conformance", "switch", {"choice": choice})
        assert exe["state"]["current"] == "SUCCESS"
        ids = {t["taskId"] for t in exe["taskRunList"]}
        assert ran in ids and not ({"left", "right", "other"} - {ran}) & ids  # unselected: no task run
        assert messages(both.client, exe["id"], "merge") == [merged]


def test_if_then_else_truthiness(both):
    body = """
inputs:
  - {id: c, type: STRING}
tasks:
  - id: cond
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.c }}"
    then:
      - {id: yes, type: io.kestra.plugin.core.log.Log, message: "then"}
    else:
      - {id: no, type: io.kestra.plugin.core.log.Log, message: "else"}
"""
    both.client.deploy_ok(flow("iffy", body))
    for value, branch in (("true", "yes"), ("anything", "yes"), ("false", "no"), ("0", "no"), ("", "no")):
        exe = both.client.run("conformance", "iffy", {"c": value})
        assert {t["taskId"] for t in exe["taskRunList"]} == {"cond", branch}, value


def test_parallel_failure_fails_parent(both):
    body = """
tasks:
  - id: pf
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {id: ok1, type: io.kestra.plugin.core.log.Log, message: fine}
      - {id: ko1, type: io.kestra.plugin.core.execution.Fail, errorMessage: boom}
"""
    exe = deploy_run(both, "par_fail", body)
    assert exe["state"]["current"] == "FAILED"
    assert state_of(exe, "pf") == "FAILED"


def test_foreach_iteration_index(v1):
    body = """
tasks:
  - id: fei
    type: io.kestra.plugin.core.flow.ForEach
    values: [a, b]
    tasks:
      - {id: it, type: io.kestra.plugin.core.log.Log, message: "{{ taskrun.iteration }}"}
"""
    exe = deploy_run(v1, "foreach_iteration", body)
    assert {t["value"]: t["iteration"] for t in runs(exe, "it")} == {"a": 0, "b": 1}


def test_loop_transmit_failed_false_runs_every_iteration(v2):
    body = """
tasks:
  - id: lt
    type: io.kestra.plugin.core.flow.Loop
    values: [a, b, c]
    concurrencyLimit: 1
    transmitFailed: false
    tasks:
      - id: maybe_fail
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ item.value == 'a' }}"
"""
    exe = deploy_run(v2, "loop_continue", body)
    assert exe["state"]["current"] == "SUCCESS"
    assert len(tree_runs(v2.client, exe, "maybe_fail")) == 3


def test_loop_restart_keeps_iteration_outputs(v2, tmp_path):
    marker = tmp_path / "fixed"
    body = """
tasks:
  - id: lr
    type: io.kestra.plugin.core.flow.Loop
    values: [a, b]
    outputs:
      - {id: got, type: STRING, value: "{{ outputs.second.value }}"}
    tasks:
      - id: first
        type: io.kestra.plugin.core.debug.Return
        format: "first-{{ item.value }}"
      - id: gate
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner: %s
        commands: ['test "{{ item.value }}" = a || test -f %s']
      - id: second
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.first.value }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ loopOutputs(outputs.lr.outputs, 'got') }}"
""" % (PROCESS, marker)
    exe = deploy_run(v2, "loop_restart", body)
    assert exe["state"]["current"] == "FAILED"
    marker.write_text("ok")
    again = v2.client.restart_and_wait(exe["id"], 2)
    assert again["state"]["current"] == "SUCCESS", tree_messages(v2.client, again)
    assert len(tree_runs(v2.client, again, "first")) == 2  # not re-created on restart
    assert messages(v2.client, exe["id"], "after") == ['["first-a","first-b"]']


def test_flowable_errors_and_finally(both):
    body = """
tasks:
  - id: seq_ef
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - {id: inner_fail, type: io.kestra.plugin.core.execution.Fail, errorMessage: inner}
      - {id: inner_never, type: io.kestra.plugin.core.log.Log, message: never}
    errors:
      - {id: seq_err, type: io.kestra.plugin.core.log.Log, message: "handled"}
    finally:
      - {id: seq_fin, type: io.kestra.plugin.core.log.Log, message: "cleanup"}
"""
    exe = deploy_run(both, "flowable_ef", body)
    assert exe["state"]["current"] == "FAILED"
    assert state_of(exe, "seq_ef") == "FAILED"  # errors do not recover (kestra.md §8.2)
    assert state_of(exe, "seq_err") == "SUCCESS" and state_of(exe, "seq_fin") == "SUCCESS"
    assert runs(exe, "inner_never") == []


def test_loop_output_shape(v2):
    # Loop outputs: iterationCount, runningIterations, terminatedIterations per state, `outputs` =
    # [{item: {value, iteration, key}, outputs}] (LoopExecutionEventMessageHandler.java@v2.0.0);
    # Loop.java@v2.0.0 has no `breakWhen`: rejected by the strict mapper.
    body = """
tasks:
  - id: lb
    type: io.kestra.plugin.core.flow.Loop
    values: {k1: a, k2: b}
    outputs:
      - {id: v, type: STRING, value: "{{ outputs.r.value }}"}
    tasks:
      - {id: r, type: io.kestra.plugin.core.debug.Return, format: "{{ item.value }}"}
  - id: dump
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.lb | toJson }}"
"""
    exe = deploy_run(v2, "loop_shape", body)
    assert exe["state"]["current"] == "SUCCESS", tree_messages(v2.client, exe)
    import json
    out = json.loads(messages(v2.client, exe["id"], "dump")[0])
    assert out["iterationCount"] == 2 and out["terminatedIterations"] == {"SUCCESS": 2}
    assert out["outputs"] == [{"item": {"value": "a", "iteration": 0, "key": "k1"}, "outputs": {"v": "a"}},
                              {"item": {"value": "b", "iteration": 1, "key": "k2"}, "outputs": {"v": "b"}}]
    bad = v2.client.deploy(flow("loop_break", body.replace("    values: {k1: a, k2: b}\n",
                                                          "    values: [a]\n    breakWhen: 'true'\n")))
    assert bad.status_code == 422 and "breakWhen" in bad.text


def test_loop_values_coalesced_like_kestra(v2):
    body = """
tasks:
  - id: lv
    type: io.kestra.plugin.core.flow.Loop
    values: [1, 2.5, "s", {k: v}, "s"]
    tasks:
      - {id: show_v, type: io.kestra.plugin.core.log.Log, message: "{{ item.value }}"}
  - id: lv_json
    type: io.kestra.plugin.core.flow.Loop
    values: '{"a": 1, "b": "x"}'
    tasks:
      - {id: show_k, type: io.kestra.plugin.core.log.Log, message: "{{ item.key }}={{ item.value }}"}
"""
    exe = deploy_run(v2, "loop_values", body)
    assert exe["state"]["current"] == "SUCCESS", tree_messages(v2.client, exe)
    assert sorted(tree_messages(v2.client, exe, "show_v")) == sorted(["1", "2.5", "s", '{"k":"v"}'])
    assert sorted(tree_messages(v2.client, exe, "show_k")) == ["a=1", "b=x"]
    bad = deploy_run(v2, "loop_bad_values", body.replace('[1, 2.5, "s", {k: v}, "s"]', "[true]")
                     .replace("lv\n", "lvb\n").replace("show_v", "sv").replace("lv_json", "lvj").replace("show_k", "sk"))
    assert bad["state"]["current"] == "FAILED"
    assert any("Unknown value element type" in m for m in messages(v2.client, bad["id"]))
