"""`io.kestra.plugin.core.flow.LoopUntil`, hand-written Kestra YAML, expectations read from the source:

- core/io/kestra/plugin/core/flow/LoopUntil.java@v1.3.34/@v2.0.0 (`nextExecutionDate`, `reachedMaximums`,
  `resolveState`, `childTaskRunExecuted`, `outputs`, CheckFrequency defaults and 2.0 constraints);
- core/io/kestra/core/runners/FlowableUtils.java `resolveWaitForNext` and
  core/io/kestra/core/models/tasks/ResolvedTask.java `toNextTaskRunIncrementIteration` (children's
  `iteration` = the LoopUntil task run's, 0 when null);
- core/io/kestra/core/services/ExecutionService.java `retryWaitFor` (iteration + 1, descendants removed) and
  `pauseFlowable` (task run and execution PAUSED during the interval);
- executor/io/kestra/executor/ExecutorService.java: 1.3.34 re-evaluates with iterationCount + 1 before pausing,
  2.0.0 evaluates with the current count (`runContext.currentOutput()`) then saves count + 1.
"""
from __future__ import annotations

import pytest

from kestra_helpers import PROCESS, Emulator, flow, iterations, messages, outputs_of, runs, state_of


@pytest.fixture(scope="module")
def v1(tmp_path_factory):
    e = Emulator(1, str(tmp_path_factory.mktemp("lu1")))
    yield e
    e.close()


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    e = Emulator(2, str(tmp_path_factory.mktemp("lu2")))
    yield e
    e.close()


@pytest.fixture(scope="module", params=[1, 2])
def both(request, v1, v2):
    return v1 if request.param == 1 else v2


def deploy_run(emu, flow_id, body):
    emu.client.deploy_ok(flow(flow_id, body))
    return emu.client.run("conformance", flow_id)


def emit(task_id, payload, indent=6):
    """A shell task printing `::{"outputs": PAYLOAD}::` (PAYLOAD is Pebble-rendered JSON)."""
    text = """
- id: %s
  type: io.kestra.plugin.scripts.shell.Commands
  taskRunner: %s
  commands:
    - >-
      echo '::{"outputs": %s }::'""" % (task_id, PROCESS, payload)
    return text.replace("\n", "\n" + " " * indent)


def lu_outputs(emu, exe, task_id="loop"):
    return outputs_of(emu.client, exe, task_id)


# ---- a loop ended by a shell task's output -------------------------------------------------------
def test_counter_loop_ends_on_shell_output(both):
    """Pass k: children `taskrun.iteration` = k-1, `outputs.loop.iterationCount` = k (1 at creation); the
    condition reads the latest pass only (earlier children are removed by retryWaitFor). Ends after the
    pass where n >= 3: 3 passes, iterationCount 3, LoopUntil `iteration` 2; PAUSED between passes."""
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.count.vars.n >= 3 }}"
    checkFrequency: {interval: PT0.05S}
    tasks:%s
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.loop.iterationCount }}/{{ outputs.count.vars.n }}/{{ outputs.count.vars.c }}"
""" % emit("count", '{"n": {{ taskrun.iteration + 1 }}, "c": {{ outputs.loop.iterationCount }}, '
                    '"it": {{ taskrun.iteration }} }')
    exe = deploy_run(both, "lu_counter", body)
    assert exe["state"]["current"] == "SUCCESS", exe
    loop = runs(exe, "loop")[0]
    assert loop["iteration"] == 2
    assert [h["state"] for h in loop["state"]["histories"]] == [
        "CREATED", "RUNNING", "PAUSED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert "PAUSED" in [h["state"] for h in exe["state"]["histories"]]
    count = runs(exe, "count")
    assert len(count) == 1 and count[0]["iteration"] == 2  # earlier passes' task runs are gone
    assert lu_outputs(both, exe) == {"iterationCount": 3}
    assert outputs_of(both.client, exe, "after")["value"] == "3/3/3"


def test_iteration_count_seen_by_the_condition_differs_per_version(both):
    """A condition on iterationCount itself: 1.3.34 evaluates again with count + 1 before pausing, so
    `iterationCount >= 3` stops after pass 2 (final count 3); 2.0.0 uses the current count, so it stops
    after pass 3 (final count 3)."""
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.loop.iterationCount >= 3 }}"
    checkFrequency: {interval: PT0.05S}
    tasks:%s
""" % emit("count", '{"it": {{ taskrun.iteration }} }')
    exe = deploy_run(both, "lu_count_cond", body)
    assert exe["state"]["current"] == "SUCCESS"
    passes = 2 if both.version < 2 else 3
    assert runs(exe, "count")[0]["iteration"] == passes - 1
    assert lu_outputs(both, exe) == {"iterationCount": 3}


# ---- checkFrequency.maxIterations / failOnMaxReached ----------------------------------------------
def test_max_iterations_without_fail(both):
    """`failOnMaxReached` defaults to false: the LoopUntil ends SUCCESS, WARN "Max iterations reached".
    Reached when iterationCount > maxIterations: 1.3.34 checks count + 1 before pausing → 3 passes for
    maxIterations 3; 2.0.0 checks the current count → 4 passes. Final iterationCount 4 in both."""
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "false"
    checkFrequency: {maxIterations: 3, interval: PT0.02S}
    tasks:%s
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "ran"
""" % emit("count", '{"it": {{ taskrun.iteration }} }')
    exe = deploy_run(both, "lu_max", body)
    assert exe["state"]["current"] == "SUCCESS"
    assert state_of(exe, "loop") == "SUCCESS"
    passes = 3 if both.version < 2 else 4
    assert runs(exe, "count")[0]["iteration"] == passes - 1
    assert lu_outputs(both, exe) == {"iterationCount": 4}
    assert "Max iterations reached" in messages(both.client, exe["id"], "loop")
    assert state_of(exe, "after") == "SUCCESS"


def test_max_iterations_fail_on_max_reached(both):
    """`failOnMaxReached: true`: resolveState returns FAILED directly, the LoopUntil's `errors` never start
    (the task run is already terminated); the flow's errors do."""
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.count.vars.it > 100 }}"
    failOnMaxReached: true
    checkFrequency: {maxIterations: 2, interval: PT0.02S}
    tasks:%s
    errors:
      - id: loop_err
        type: io.kestra.plugin.core.log.Log
        message: handled
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "never"
errors:
  - id: flow_err
    type: io.kestra.plugin.core.log.Log
    message: flow errors
""" % emit("count", '{"it": {{ taskrun.iteration }} }')
    exe = deploy_run(both, "lu_max_fail", body)
    assert exe["state"]["current"] == "FAILED"
    assert state_of(exe, "loop") == "FAILED"
    assert runs(exe, "loop_err") == [] and runs(exe, "after") == []
    assert state_of(exe, "flow_err") == "SUCCESS"
    passes = 2 if both.version < 2 else 3
    assert runs(exe, "count")[0]["iteration"] == passes - 1
    assert lu_outputs(both, exe) == {"iterationCount": 3}


# ---- a failing child -----------------------------------------------------------------------------
def test_failing_child_runs_errors_and_stops(both):
    """A FAILED child: childTaskRunExecuted is false, so the condition is not evaluated; FlowableUtils.
    resolveState runs the errors branch (its task runs get the LoopUntil's iteration too) and the
    LoopUntil ends FAILED after one pass."""
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "false"
    checkFrequency: {interval: PT0.02S}
    tasks:
      - id: boom
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner: %s
        commands: ["exit 3"]
      - id: never
        type: io.kestra.plugin.core.debug.Return
        format: x
    errors:
      - id: handler
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.iteration }}"
""" % PROCESS
    exe = deploy_run(both, "lu_child_fails", body)
    assert exe["state"]["current"] == "FAILED"
    loop = runs(exe, "loop")[0]
    assert loop["state"]["current"] == "FAILED" and loop.get("iteration") is None
    assert "PAUSED" not in [h["state"] for h in loop["state"]["histories"]]
    assert state_of(exe, "boom") == "FAILED" and runs(exe, "never") == []
    assert state_of(exe, "handler") == "SUCCESS" and runs(exe, "handler")[0]["iteration"] == 0
    assert lu_outputs(both, exe) == {"iterationCount": 1}


def test_disabled_child_means_one_pass_without_condition(both):
    """childTaskRunExecuted compares with tasks.size(), disabled tasks included: with a disabled child it is
    never true, so the condition (here unrenderable) is never evaluated and the LoopUntil ends SUCCESS."""
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.nothing.here }}"
    tasks:
      - id: one
        type: io.kestra.plugin.core.debug.Return
        format: x
      - id: off
        type: io.kestra.plugin.core.debug.Return
        format: y
        disabled: true
"""
    exe = deploy_run(both, "lu_disabled", body)
    assert exe["state"]["current"] == "SUCCESS"
    assert runs(exe, "loop")[0].get("iteration") is None


def test_unrenderable_condition_fails_without_errors(both):
    """A condition that cannot be rendered: resolveState throws → "Unable to resolve state from the
    Flowable task" and FAILED at once; the LoopUntil's errors branch does not run."""
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.missing.vars.x }}"
    tasks:
      - id: one
        type: io.kestra.plugin.core.debug.Return
        format: x
    errors:
      - id: loop_err
        type: io.kestra.plugin.core.log.Log
        message: handled
"""
    exe = deploy_run(both, "lu_bad_condition", body)
    assert exe["state"]["current"] == "FAILED" and state_of(exe, "loop") == "FAILED"
    assert runs(exe, "loop_err") == []
    assert any("Unable to resolve state from the Flowable task" in m
               for m in messages(both.client, exe["id"], "loop"))


def test_condition_truthiness(both):
    """TruthUtils.isTruthy on the trimmed text: " 0 " is false, so the loop goes on."""
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: " {{ taskrun.iteration ?? 0 }} "
    checkFrequency: {interval: PT0.02S}
    tasks:
      - id: one
        type: io.kestra.plugin.core.debug.Return
        format: x
"""
    exe = deploy_run(both, "lu_truthy", body)
    assert exe["state"]["current"] == "SUCCESS"
    # the LoopUntil's own taskrun.iteration is null on pass 1 (→ " 0 ", falsy), 1 afterwards (truthy)
    assert runs(exe, "one")[0]["iteration"] == 1


# ---- interval PT0S -------------------------------------------------------------------------------
PT0S_BODY = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.count.vars.it >= %d }}"
    checkFrequency: {interval: PT0S}
    tasks:%s
""" % (0, "%s")


def test_interval_pt0s_v1_loops(v1):
    """1.3.34 CheckFrequency has no constraint: PT0S re-schedules at once (ExecutionDelay at now)."""
    body = PT0S_BODY.replace(">= 0", ">= 2") % emit("count", '{"it": {{ taskrun.iteration }} }')
    exe = deploy_run(v1, "lu_pt0s", body)
    assert exe["state"]["current"] == "SUCCESS"
    assert runs(exe, "count")[0]["iteration"] == 2


def test_interval_pt0s_v2_fails_when_it_must_loop(v2):
    """2.0.0: `Property<@DurationMin(millis = 1) Duration> interval`; rendering it (only when the loop must
    go on) caches Duration.ZERO and the task validation throws → the LoopUntil FAILS after pass 1."""
    body = PT0S_BODY.replace(">= 0", ">= 2") % emit("count", '{"it": {{ taskrun.iteration }} }')
    exe = deploy_run(v2, "lu_pt0s", body)
    assert exe["state"]["current"] == "FAILED" and state_of(exe, "loop") == "FAILED"
    assert runs(exe, "count")[0]["iteration"] == 0
    assert any("must be a positive duration" in m for m in messages(v2.client, exe["id"], "loop"))


def test_interval_pt0s_v2_fine_when_done_at_once(v2):
    """Not rendered when the condition holds after the first pass: no violation, SUCCESS."""
    body = PT0S_BODY % emit("count", '{"it": {{ taskrun.iteration }} }')
    exe = deploy_run(v2, "lu_pt0s_once", body)
    assert exe["state"]["current"] == "SUCCESS"


# ---- the shape our compiler emits for a recursive step ---------------------------------------------
COMPILED_SHAPE = """
tasks:
  - id: mf-loop-loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs['loop'].vars.branch != 'loop' }}"
    failOnMaxReached: true
    checkFrequency: {maxIterations: 1000, interval: PT0S}
    tasks:
      - id: loop
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner: %s
        env:
          MFO_ITERATION: "{{ taskrun.iteration }}"
        commands:
          - >-
            if [ "$MFO_ITERATION" -lt 2 ]; then b=loop; else b=end; fi;
            echo "::{\\"outputs\\": {\\"branch\\": \\"$b\\", \\"i\\": $MFO_ITERATION} }::"
""" % PROCESS


def test_recursive_step_shape(both):
    """1.3.34: three passes (MFO_ITERATION 0, 1, 2), SUCCESS. 2.0.0: the PT0S interval is rendered after
    pass 1 (branch == 'loop') and violates @DurationMin → FAILED after one pass."""
    exe = deploy_run(both, "lu_compiled", COMPILED_SHAPE)
    if both.version < 2:
        assert exe["state"]["current"] == "SUCCESS"
        assert runs(exe, "loop")[0]["outputs"]["vars"] == {"branch": "end", "i": 2}
        assert runs(exe, "mf-loop-loop")[0]["outputs"] == {"iterationCount": 3}
    else:
        assert exe["state"]["current"] == "FAILED"
        assert runs(exe, "loop")[0]["iteration"] == 0


# ---- nesting -------------------------------------------------------------------------------------
def test_inside_foreach_v1(v1):
    """1.x ForEach → LoopUntil (a direct child: value + iteration = the ForEach index). Children start at
    the LoopUntil's iteration (0 for "a", 1 for "b") and see it as `parent` (value and outputs). The
    children's outputs are keyed by the LoopUntil's value. At the creation of "b"'s LoopUntil,
    `outputs.loop` already holds "a"'s entry keyed by value, so `get("iterationCount")` is null and it
    starts without iterationCount (0, then 1 after its first pass)."""
    body = """
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: loop
        type: io.kestra.plugin.core.flow.LoopUntil
        condition: "{{ outputs.count[taskrun.value].vars.it >= 2 }}"
        checkFrequency: {interval: PT0.02S}
        tasks:%s
""" % emit("count", '{"it": {{ taskrun.iteration }}, "v": "{{ parent.taskrun.value }}", '
                    '"c": "{{ parent.outputs.iterationCount ?? \'none\' }}" }', indent=8)
    exe = deploy_run(v1, "lu_foreach", body)
    assert exe["state"]["current"] == "SUCCESS", exe
    loops = {t["value"]: t for t in runs(exe, "loop")}
    assert loops["a"]["iteration"] == 2 and loops["b"]["iteration"] == 2
    assert loops["a"]["outputs"] == {"iterationCount": 3}
    assert loops["b"]["outputs"] == {"iterationCount": 1}
    counts = {t["outputs"]["vars"]["v"]: t["outputs"]["vars"] for t in runs(exe, "count")}
    assert counts["a"] == {"it": 2, "v": "a", "c": "3"}
    assert counts["b"] == {"it": 2, "v": "b", "c": "1"}


def test_first_pass_of_second_foreach_value_has_no_count_v1(v1):
    body = """
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: loop
        type: io.kestra.plugin.core.flow.LoopUntil
        condition: "true"
        tasks:%s
""" % emit("count", '{"v": "{{ parent.taskrun.value }}", '
                    '"c": "{{ parent.outputs.iterationCount ?? \'none\' }}" }', indent=8)
    exe = deploy_run(v1, "lu_foreach_first", body)
    assert exe["state"]["current"] == "SUCCESS"
    counts = {t["outputs"]["vars"]["v"]: t["outputs"]["vars"]["c"] for t in runs(exe, "count")}
    assert counts == {"a": "1", "b": "none"}
    assert {t["value"]: t.get("outputs") for t in runs(exe, "loop")} == {"a": {"iterationCount": 1}, "b": {}}


def test_inside_loop_iteration_v2(v2):
    """2.x Loop → LoopUntil: each iteration sub-execution has its own LoopUntil task run, starting at
    iterationCount 1 and iteration 0; the root only holds the Loop task run."""
    body = """
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.Loop
    values: [1, 2]
    tasks:
      - id: loop
        type: io.kestra.plugin.core.flow.LoopUntil
        condition: "{{ outputs.count.vars.it >= outputs.count.vars.target }}"
        checkFrequency: {interval: PT0.02S}
        tasks:%s
""" % emit("count", '{"it": {{ taskrun.iteration }}, "target": {{ item.value }} }', indent=8)
    exe = deploy_run(v2, "lu_in_loop", body)
    assert exe["state"]["current"] == "SUCCESS", exe
    assert [t["taskId"] for t in exe["taskRunList"]] == ["each"]
    subs = iterations(v2.client, exe["id"])
    assert len(subs) == 2
    for sub, passes in zip(subs, (2, 3)):
        assert sub["state"]["current"] == "SUCCESS"
        assert "PAUSED" in [h["state"] for h in sub["state"]["histories"]]
        assert runs(sub, "loop")[0]["iteration"] == passes - 1
        assert runs(sub, "count")[0]["iteration"] == passes - 1
        assert lu_outputs(v2, sub) == {"iterationCount": passes}


def test_nested_loop_until_starts_clean(both):
    """retryWaitFor removes every descendant, an inner LoopUntil included: each outer pass creates a new
    inner LoopUntil task run at iterationCount 1."""
    body = """
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.outer.iterationCount >= 3 }}"
    checkFrequency: {interval: PT0.02S, maxIterations: 5}
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.LoopUntil
        condition: "{{ outputs.inner.iterationCount >= 2 }}"
        checkFrequency: {interval: PT0.02S}
        tasks:
          - id: leaf
            type: io.kestra.plugin.core.debug.Return
            format: "{{ outputs.inner.iterationCount }}"
"""
    exe = deploy_run(both, "lu_nested", body)
    assert exe["state"]["current"] == "SUCCESS"
    assert len(runs(exe, "inner")) == 1 and len(runs(exe, "leaf")) == 1
    # inner ends with count 2 each time (1.3.34 after 1 pass, 2.0.0 after 2); outer: 2 passes in 1.3.34,
    # 3 in 2.0.0, final count 3
    assert outputs_of(both.client, exe, "inner") == {"iterationCount": 2}
    assert outputs_of(both.client, exe, "outer") == {"iterationCount": 3}
    assert runs(exe, "outer")[0]["iteration"] == (1 if both.version < 2 else 2)
    # the inner task run is created with the outer's iteration (toNextTaskRunIncrementIteration), then its own
    # retryWaitFor increments it: 1.3.34 outer pass 2 → 1 (one inner pass); 2.0.0 outer pass 3 → 2, +1
    assert runs(exe, "inner")[0]["iteration"] == (1 if both.version < 2 else 3)
    assert runs(exe, "leaf")[0]["iteration"] == runs(exe, "inner")[0]["iteration"]


# ---- parsing -------------------------------------------------------------------------------------
def _validate(emu, body):
    return emu.client.deploy(flow("lu_parse", body))


def test_parse_required_and_unknown(both):
    missing = _validate(both, """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    tasks:
      - {id: a, type: io.kestra.plugin.core.debug.Return, format: x}
""")
    assert missing.status_code == 422 and "condition" in missing.text
    unknown = _validate(both, """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "true"
    checkFrequency: {every: PT1S}
    tasks:
      - {id: a, type: io.kestra.plugin.core.debug.Return, format: x}
""")
    assert unknown.status_code == 422 and "every" in unknown.text


def test_parse_empty_tasks(both):
    """1.3.34 `tasks` is only @NotNull; 2.0.0 (AbstractBranch) @NotEmpty."""
    r = _validate(both, """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "true"
    tasks: []
""")
    assert r.status_code == (200 if both.version < 2 else 422), r.text


def test_waitfor_alias(both):
    """`@Plugin(aliases = "io.kestra.plugin.core.flow.WaitFor")` in both versions."""
    body = """
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "true"
    tasks:
      - {id: a, type: io.kestra.plugin.core.debug.Return, format: x}
"""
    exe = deploy_run(both, "lu_alias", body)
    assert exe["state"]["current"] == "SUCCESS"
