"""Conformance cases for the Kestra errata (issue 10): hand-written Kestra YAML whose expected outcome
is read from Kestra's source (1.3.34 and 2.0.0 Maven source jars; the web layer from the 1.3.25 public
copy, the webserver jar not being on Maven Central). Each case cites the rule it checks. They run on the
emulator and, unchanged, on a real server (KESTRA_HOST): see kestra_helpers."""
from __future__ import annotations

import time

import pytest

from kestra_helpers import (PROCESS, Emulator, flow, iterations, messages, one, runs, state_of, tree_messages,
                            wait_task_running, STARTED)


@pytest.fixture(scope="module")
def v1(tmp_path_factory):
    e = Emulator(1, str(tmp_path_factory.mktemp("e1")))
    yield e
    e.close()


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    e = Emulator(2, str(tmp_path_factory.mktemp("e2")))
    yield e
    e.close()


def run(target, flow_id, body, inputs=None):
    target.client.deploy_ok(flow(flow_id, body))
    return target.client.run("conformance", flow_id, inputs)


def action(target, exe_id, name, **params):
    infix = "/actions" if target.version >= 2 else ""
    method = "DELETE" if name == "kill" else "POST"
    return target.client.http.request(method, "%s/executions/%s%s/%s" % (target.client.prefix, exe_id, infix, name),
                                      params=params)


# ---- 1. inputs ---------------------------------------------------------------------------
def test_1_input_default_with_required_false_rejected(both):
    # InputValidator.java@v1.3.34/@v2.0.0: "Inputs with a default value must be required, since the
    # default is always applied."; `required` defaults to true (models/flows/Input.java), so omitting it
    # with a default is accepted, and the default applies.
    bad = both.client.deploy(flow("in_bad", """
inputs:
  - {id: n, type: INT, required: false, defaults: 3}
tasks:
  - {id: t, type: io.kestra.plugin.core.log.Log, message: "{{ inputs.n }}"}
"""))
    assert bad.status_code == 422
    assert "Inputs with a default value must be required, since the default is always applied." in bad.text
    exe = run(both, "in_ok", """
inputs:
  - {id: n, type: INT, defaults: 3}
  - {id: s, type: STRING, required: false}
tasks:
  - {id: t, type: io.kestra.plugin.core.log.Log, message: "{{ inputs.n }}"}
""")
    assert exe["state"]["current"] == "SUCCESS" and messages(both.client, exe["id"], "t") == ["3"]


# ---- 2. Switch without a match -----------------------------------------------------------
def test_2_switch_without_match_and_defaults_fails(both):
    # Switch.childTasks@v1.3.34/@v2.0.0 → null without match and defaults; FlowableUtils.resolveState:
    # "No task found" → FAILED (allowFailure → WARNING).
    body = """
tasks:
  - id: sw
    type: io.kestra.plugin.core.flow.Switch
    value: "zzz"
    cases:
      a:
        - {id: in_a, type: io.kestra.plugin.core.log.Log, message: a}
  - {id: after, type: io.kestra.plugin.core.log.Log, message: after}
"""
    exe = run(both, "sw_nomatch", body)
    assert exe["state"]["current"] == "FAILED"
    assert state_of(exe, "sw") == "FAILED" and runs(exe, "after") == [] and runs(exe, "in_a") == []
    exe = run(both, "sw_nomatch_allowed", body.replace('    value: "zzz"', '    value: "zzz"\n    allowFailure: true'))
    assert state_of(exe, "sw") == "WARNING" and state_of(exe, "after") == "SUCCESS"


def test_2_switch_validator_needs_cases_or_defaults(both):
    # SwitchTaskValidator.java@v1.3.34/@v2.0.0
    r = both.client.deploy(flow("sw_empty", """
tasks:
  - {id: sw, type: io.kestra.plugin.core.flow.Switch, value: x}
"""))
    assert r.status_code == 422 and "No task defined, neither cases or default have any tasks" in r.text


# ---- 3. 1.x ForEach values ---------------------------------------------------------------
def test_3_foreach_value_only_for_direct_children(v1):
    # FlowableUtils.resolveEachTasks@v1.3.34 gives value/iteration to the ForEach's direct children only;
    # resolveTasks (Sequential/Parallel/Switch children) does not. RunVariables@v1.3.34: `parents` is
    # always set for a task run (closest first), one entry per ancestor with a value (`taskrun.value`) or
    # non-empty outputs (`outputs`), ancestors with neither skipped (Execution.parents@v1.3.34);
    # `parent` = parents[0] only when non-empty.
    body = """
tasks:
  - {id: top, type: io.kestra.plugin.core.log.Log, message: "top parents={{ parents | length }} p={{ parent ?? 'none' }}"}
  - id: fe
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: direct
        type: io.kestra.plugin.core.log.Log
        message: "direct {{ taskrun.value }} {{ taskrun.iteration }} parents={{ parents | length }}"
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: nested
            type: io.kestra.plugin.core.log.Log
            message: "nested {{ parent.taskrun.value }} own={{ taskrun.value ?? 'none' }} {{ parents | toJson }}"
"""
    exe = run(v1, "fe_values", body)
    assert exe["state"]["current"] == "SUCCESS", messages(v1.client, exe["id"])
    assert messages(v1.client, exe["id"], "top") == ["top parents=0 p=none"]
    assert sorted(messages(v1.client, exe["id"], "direct")) == ["direct a 0 parents=0", "direct b 1 parents=0"]
    assert sorted(messages(v1.client, exe["id"], "nested")) == [
        'nested a own=none [{"taskrun":{"value":"a"}}]', 'nested b own=none [{"taskrun":{"value":"b"}}]']


def test_3_foreach_nested_value_chain(v1):
    # Same rules, one level deeper: deep is a direct child of inner_fe (own value x); its ancestors with a
    # value are `seq` (a/b) — inner_fe has neither value nor outputs and is skipped — so parents has ONE
    # entry and parents[1] does not exist.
    body = """
tasks:
  - id: fe
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: inner_fe
            type: io.kestra.plugin.core.flow.ForEach
            values: ["x"]
            tasks:
              - id: deep
                type: io.kestra.plugin.core.log.Log
                message: "deep {{ taskrun.value }} {{ parent.taskrun.value }} n={{ parents | length }}"
"""
    exe = run(v1, "fe_chain", body)
    assert exe["state"]["current"] == "SUCCESS", messages(v1.client, exe["id"])
    assert sorted(messages(v1.client, exe["id"], "deep")) == ["deep x a n=1", "deep x b n=1"]


def test_3_foreach_nested_task_has_no_taskrun_value(v1):
    # A task inside a Sequential inside a ForEach has no `taskrun.value`: strict Pebble fails it.
    body = """
tasks:
  - id: fe
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a"]
    tasks:
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - {id: nested, type: io.kestra.plugin.core.log.Log, message: "{{ taskrun.value }}"}
"""
    exe = run(v1, "fe_novalue", body)
    assert exe["state"]["current"] == "FAILED"
    assert state_of(exe, "nested") == "FAILED"


def test_3_switch_in_foreach_parent_has_value_and_outputs(v1):
    # The Switch is a direct ForEach child (value a) and gets its outputs {value, defaults} when it starts
    # (ExecutorService.java@v1.3.34 saveFlowableOutput), so its children's parent = {taskrun: {value},
    # outputs: {value, defaults}}; their own outputs are keyed by the ancestors' values
    # (Execution.outputs@v1.3.34): outputs.<task>.<value>.
    body = """
tasks:
  - id: fe
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: sw
        type: io.kestra.plugin.core.flow.Switch
        value: "{{ taskrun.value }}"
        cases:
          a:
            - {id: ra, type: io.kestra.plugin.core.debug.Return, format: "A {{ parent.taskrun.value }} {{ parent.outputs.value }} {{ parent.outputs.defaults }}"}
        defaults:
          - {id: rd, type: io.kestra.plugin.core.debug.Return, format: "D {{ parent.taskrun.value }}"}
  - {id: show, type: io.kestra.plugin.core.log.Log, message: "{{ outputs.ra | toJson }} {{ outputs.rd | toJson }}"}
"""
    exe = run(v1, "fe_switch", body)
    assert exe["state"]["current"] == "SUCCESS", messages(v1.client, exe["id"])
    assert messages(v1.client, exe["id"], "show") == ['{"a":{"value":"A a a false"}} {"b":{"value":"D b"}}']


# ---- 4. 2.x Loop iterations ----------------------------------------------------------------
def test_4_loop_iterations_are_sub_executions(v2):
    # Execution.loopExecution@v2.0.0: fresh id, kind LOOP, parentId, no originalId; RunVariables@v2.0.0:
    # `execution` comes from loopRun.parent() (the IMMEDIATE parent execution), inputs too; `item`;
    # parents only within the iteration (the Loop task run lives in the parent: not listed);
    # TaskOutputService.computeOutputs@v2.0.0 puts the parent's outputs over the iteration's.
    body = """
inputs:
  - {id: who, type: STRING, defaults: me}
labels: {team: data}
tasks:
  - {id: pre, type: io.kestra.plugin.core.debug.Return, format: "pre-value"}
  - id: outer
    type: io.kestra.plugin.core.flow.Loop
    values: ["p", "q"]
    tasks:
      - id: o_leaf
        type: io.kestra.plugin.core.log.Log
        message: "o {{ execution.id }}|{{ execution.originalId ?? 'none' }}|{{ item.value }}|{{ item.index }}|{{ outputs.pre.value }}|{{ inputs.who }}|{{ labels.team }}|{{ parents | length }}"
      - id: inner
        type: io.kestra.plugin.core.flow.Loop
        values: ["x"]
        tasks:
          - id: i_leaf
            type: io.kestra.plugin.core.log.Log
            message: "i {{ execution.id }}|{{ execution.originalId ?? 'none' }}|{{ item.value }}|{{ item.parent.value }}|{{ item.parents[0].index }}|{{ outputs.pre.value }}"
"""
    exe = run(v2, "loop_ids", body)
    assert exe["state"]["current"] == "SUCCESS", tree_messages(v2.client, exe)
    root = exe["id"]
    assert {t["taskId"] for t in exe["taskRunList"]} == {"pre", "outer"}  # no iteration task runs
    outers = iterations(v2.client, root)
    assert [o["loopRun"]["index"] for o in outers] == [0, 1]
    for o in outers:
        assert o["kind"] == "LOOP" and o["parentId"] == root and "originalId" not in o and o["id"] != root
        assert {"key": "team", "value": "data"} in o["labels"]
    o_logs = sorted(tree_messages(v2.client, exe, "o_leaf"))
    assert o_logs == ["o %s|%s|p|0|pre-value|me|data|0" % (root, root), "o %s|%s|q|1|pre-value|me|data|0" % (root, root)]
    # nested: execution.id is the OUTER ITERATION's id, which has no originalId
    expected = sorted("i %s|none|x|%s|%d|pre-value" % (o["id"], o["loopRun"]["value"], o["loopRun"]["index"])
                      for o in outers)
    assert sorted(tree_messages(v2.client, exe, "i_leaf")) == expected
    # a plain search (no kind filter) does not list iterations
    r = v2.client.http.get(v2.client.prefix + "/executions/search",
                           params={"filters[flowId][EQUALS]": "loop_ids", "size": 100})
    assert all(e.get("kind", "NORMAL") != "LOOP" for e in r.json()["results"])


def test_4_loop_other_iterations_outputs_invisible(v2):
    # Each iteration computes outputs from its own task runs + its parent's (TaskOutputService@v2.0.0),
    # so a task of another iteration is not visible: `outputs.r` holds only this iteration's value.
    body = """
tasks:
  - id: lp
    type: io.kestra.plugin.core.flow.Loop
    values: ["a", "b"]
    tasks:
      - {id: r, type: io.kestra.plugin.core.debug.Return, format: "{{ item.value }}"}
      - {id: see, type: io.kestra.plugin.core.log.Log, message: "{{ outputs.r | toJson }}"}
"""
    exe = run(v2, "loop_iso", body)
    assert exe["state"]["current"] == "SUCCESS"
    assert sorted(tree_messages(v2.client, exe, "see")) == ['{"value":"a"}', '{"value":"b"}']


def test_4_loop_concurrency_default_one_and_transmit_failed(v2):
    # Loop.concurrencyLimit default 1 and transmitFailed default true (Loop.java@v2.0.0): the first
    # failed iteration ends the Loop FAILED at once, later iterations never start
    # (LoopExecutionEventMessageHandler.java@v2.0.0).
    body = """
tasks:
  - id: lp
    type: io.kestra.plugin.core.flow.Loop
    values: ["a", "b", "c"]
    tasks:
      - {id: f, type: io.kestra.plugin.core.execution.Fail, condition: "{{ item.value == 'a' }}", errorMessage: boom}
"""
    exe = run(v2, "loop_fail", body)
    assert exe["state"]["current"] == "FAILED" and state_of(exe, "lp") == "FAILED"
    assert len(iterations(v2.client, exe["id"])) == 1


# ---- 5. rendering: env twice, commands once, vars raw, python Script twice ------------------
def test_5_rendering_counts(both):
    # env: rendered twice (AbstractExecScript.commands + TaskRunner.env@v1.3.34/@v2.0.0); commands once
    # (CommandsWrapper.renderCommands); flow `variables` are raw, never re-rendered (RunVariables `vars`,
    # recursive rendering off by default, VariableConfiguration@v1.3.34/@v2.0.0).
    body = """
inputs:
  - {id: x, type: STRING}
variables:
  v: "{{ execution.id }}"
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    env: {E: "{{ inputs.x }}"}
    commands:
      - echo "cmd={{ inputs.x }}"
      - echo "env=$E"
      - echo "var={{ vars.v }}"
""" % PROCESS
    exe = run(both, "render_counts", body, {"x": "{{ flow.id }}"})
    assert exe["state"]["current"] == "SUCCESS", messages(both.client, exe["id"])
    # As a set: the real engine may store lines of one millisecond in another order (seen on 1.3.31).
    assert sorted(messages(both.client, exe["id"], "sh")) == ["cmd={{ flow.id }}", "env=render_counts",
                                                              "var={{ execution.id }}"]


def test_5_working_dir_not_in_env(both):
    # `workingDir` is a runner variable for commands only; env is rendered without it
    # (TaskRunner.additionalVars vs renderMap(env), TaskRunner.java@v1.3.34/@v2.0.0).
    exe = run(both, "wd_env", """
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    env: {WD: "{{ workingDir }}"}
    commands: ['echo "$WD"']
""" % PROCESS)
    assert exe["state"]["current"] == "FAILED"


def test_5_python_script_body_rendered_twice(both):
    # plugin-scripts python Script@v1.9.8: the rendered body becomes an input file that
    # CommandsWrapper.run renders again (FilesService.inputFiles).
    exe = run(both, "py_twice", """
inputs:
  - {id: x, type: STRING}
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    taskRunner: %s
    script: |
      print("got={{ inputs.x }}")
""" % PROCESS, {"x": "{{ flow.id }}"})
    assert exe["state"]["current"] == "SUCCESS", messages(both.client, exe["id"])
    assert messages(both.client, exe["id"], "py") == ["got=py_twice"]


def test_5_pebble_filters(both):
    # EscapeCharFilter.java, ToJsonFilter.java@v1.3.34/@v2.0.0 (toJson(null) = "null"); `json` filter only
    # in 1.3 (Extension.java@v2.0.0 has no `json`); Pebble core base64encode.
    exe = run(both, "filters", """
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: "{{ \\"it's\\" | escapeChar('shell') }} {{ null | toJson }} {{ 'ab' | base64encode }} {{ {'a': 1} | toJson }}"
""")
    assert messages(both.client, exe["id"], "l") == ["it'\\''s null YWI= {\"a\":1}"]
    exe = run(both, "json_filter", """
tasks:
  - {id: l, type: io.kestra.plugin.core.log.Log, message: "{{ [1] | json }}"}
""")
    assert exe["state"]["current"] == ("FAILED" if both.version >= 2 else "SUCCESS")


# ---- 6. Parallel on child failure ----------------------------------------------------------
def _parallel(extra=""):
    return """
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel%s
    tasks:
      - id: slow
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner: %s
        commands: ["sleep 3"]
      - id: quick_fail
        type: io.kestra.plugin.core.execution.Fail
        errorMessage: boom
""" % (extra, PROCESS)


def test_6_parallel_child_failure(both):
    # 1.x: siblings run to completion, not waited for (Parallel.java@v1.3.34). 2.x: onChildFailure defaults to FAIL:
    # still-running siblings are interrupted and end FAILED (Parallel.java@v2.0.0,
    # ExecutorService.interruptOnChildFailure@v2.0.0); CANCEL → CANCELLED; CONTINUE → they finish.
    started = time.monotonic()
    exe = run(both, "par_fail_default", _parallel())
    assert exe["state"]["current"] == "FAILED" and state_of(exe, "par") == "FAILED"
    def settled(exe):
        # The execution may end before the sibling's interruption (or completion) is recorded: the real
        # 2.0.0 engine shows it RUNNING at that moment (case fix: it read the sibling at once).
        deadline = time.monotonic() + 10
        while state_of(exe, "slow") == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
            exe = both.client.execution(exe["id"])
        return state_of(exe, "slow")

    if both.version >= 2:
        assert settled(exe) == "FAILED" and time.monotonic() - started < 3
        exe = run(both, "par_cancel", _parallel("\n    onChildFailure: CANCEL"))
        assert settled(exe) == "CANCELLED"
        exe = run(both, "par_continue", _parallel("\n    onChildFailure: CONTINUE"))
        assert settled(exe) == "SUCCESS"
    else:
        # The Parallel (and the execution) end FAILED at once, the sibling still running
        # (FlowableUtils.resolveState@v1.3.31 first-call branch); it finishes on its own later.
        # Case fix: it expected the execution to wait for the sibling (seen on the real 1.3.31 engine).
        # Meanwhile the real engine shows the sibling FAILED (then its worker result replaces the task
        # run); the emulator shows it RUNNING (docs/kestra-emulator.md, approximations).
        assert time.monotonic() - started < 3 and state_of(exe, "slow") in ("RUNNING", "FAILED")
        deadline = time.monotonic() + 10
        while state_of(exe, "slow") != "SUCCESS" and time.monotonic() < deadline:
            time.sleep(0.1)
            exe = both.client.execution(exe["id"])
        assert state_of(exe, "slow") == "SUCCESS" and exe["state"]["current"] == "FAILED"
        bad = both.client.deploy(flow("par_v1_opt", _parallel("\n    onChildFailure: FAIL")))
        assert bad.status_code == 422  # no such property in 1.3


# ---- 7. restart ----------------------------------------------------------------------------
def test_7_restart_keeps_attempts_and_refusals(both, tmp_path):
    # ExecutionService.restart@v1.3.34/@v2.0.0: same execution, FAILED task runs (and ancestors) run again,
    # attempts kept (TaskRun.forChildExecution), so attemptsCount continues; label system.restarted=true.
    marker = tmp_path / ("ok_%d" % both.version)
    exe = run(both, "restart_attempts", """
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    retry: {type: constant, interval: PT0.1S, maxAttempts: 2}
    commands:
      - echo "attempts={{ taskrun.attemptsCount }}"
      - test -f %s
""" % (PROCESS, marker))
    assert exe["state"]["current"] == "FAILED" and len(one(exe, "t")["attempts"]) == 2
    marker.write_text("ok")
    again = both.client.restart_and_wait(exe["id"], both.version)
    assert again["state"]["current"] == "SUCCESS"
    assert len(one(again, "t")["attempts"]) == 3
    assert [m for m in messages(both.client, exe["id"], "t") if m.startswith("attempts=")] == \
        ["attempts=0", "attempts=1", "attempts=2"]
    assert {"key": "system.restarted", "value": "true"} in again["labels"]
    # nothing failed: 1.3 → 422 (IllegalArgumentException), 2.0 → 409 (state not FAILED, IllegalStateException)
    r = action(both, exe["id"], "restart")
    assert r.status_code == (409 if both.version >= 2 else 422)


def test_7_restart_killed_refused(both):
    # State.canBeRestarted@v1.3.34 (not KILLED) / @v2.0.0 (FAILED or PAUSED): IllegalStateException → 409
    # "Execution must be terminated or paused and not killed to be restarted" (ErrorController@v1.3.25).
    both.client.deploy_ok(flow("restart_killed", """
tasks:
  - {id: s, type: io.kestra.plugin.scripts.shell.Commands, taskRunner: %s, commands: ["echo %s", "sleep 30"]}
""" % (PROCESS, STARTED)))
    exe_id = both.client.trigger("conformance", "restart_killed").json()["id"]
    wait_task_running(both.client, exe_id, "s")
    assert action(both, exe_id, "kill").status_code in (200, 202)
    assert both.client.wait(exe_id)["state"]["current"] == "KILLED"
    r = action(both, exe_id, "restart")
    assert r.status_code == 409
    assert "Execution must be terminated or paused and not killed to be restarted" in r.text


# ---- 8. kill of a finished execution ---------------------------------------------------------
def test_8_kill_finished_execution(both):
    # ExecutionController.killExecution@v1.3.25: 409 only when isOnKillCascade=false (default true).
    exe = run(both, "kill_done", "tasks:\n  - {id: l, type: io.kestra.plugin.core.log.Log, message: hi}\n")
    r = action(both, exe["id"], "kill")
    assert r.status_code == (200 if both.version >= 2 else 202)
    assert both.client.execution(exe["id"])["state"]["current"] == "SUCCESS"
    assert action(both, exe["id"], "kill", isOnKillCascade="false").status_code == 409


# ---- 9. webhook without an execution --------------------------------------------------------
def test_9_webhook_without_execution(both):
    # 1.3: Webhook.evaluate@v1.3.34 answers CONFLICT when WebhookService.newExecution is empty (here: the
    # trigger's inputs are invalid); 2.0: 422 for that (WebhookInputRenderException, Webhook.java@v2.0.0).
    # A disabled flow → IllegalStateException → 409 (ExecutionController.webhook@v1.3.25); a path after
    # the key → 404 (Webhook.evaluate).
    # The bad value is an expression: 2.0.0 rejects a literal invalid value at deploy ("Invalid value for
    # input 'n' supplied by Webhook Trigger 'w': `abc` is not a valid INT value"; case fix).
    both.client.deploy_ok(flow("hook_bad", """
inputs:
  - {id: n, type: INT}
triggers:
  - {id: w, type: io.kestra.plugin.core.trigger.Webhook, key: hookbad, inputs: {n: "{{ 'abc' }}"}}
tasks:
  - {id: l, type: io.kestra.plugin.core.log.Log, message: "{{ inputs.n }}"}
"""))
    r = both.client.http.post(both.client.prefix + "/executions/webhook/conformance/hook_bad/hookbad")
    assert r.status_code == (422 if both.version >= 2 else 409)
    r = both.client.http.post(both.client.prefix + "/executions/webhook/conformance/hook_bad/hookbad/extra")
    assert r.status_code == 404
    both.client.deploy_ok(flow("hook_off", """
disabled: true
triggers:
  - {id: w, type: io.kestra.plugin.core.trigger.Webhook, key: hookoff}
tasks:
  - {id: l, type: io.kestra.plugin.core.log.Log, message: hi}
"""))
    r = both.client.http.post(both.client.prefix + "/executions/webhook/conformance/hook_off/hookoff")
    assert r.status_code == 409


def test_9_webhook_when_false_2x(v2):
    # 2.0: conditions (`when`) not met → 204 No Content (Webhook.java@v2.0.0).
    v2.client.deploy_ok(flow("hook_when", """
triggers:
  - {id: w, type: io.kestra.plugin.core.trigger.Webhook, key: hookwhen, when: "{{ trigger.body.go == 'yes' }}"}
tasks:
  - {id: l, type: io.kestra.plugin.core.log.Log, message: hi}
"""))
    r = v2.client.http.post(v2.client.prefix + "/executions/webhook/conformance/hook_when/hookwhen", json={"go": "no"})
    assert r.status_code == 204
    r = v2.client.http.post(v2.client.prefix + "/executions/webhook/conformance/hook_when/hookwhen", json={"go": "yes"})
    assert r.status_code == 200
