"""Triggers (kestra.md §10): Schedule on the clock (time injected into the scheduler tick),
Flow triggers (1.x conditions/preconditions, 2.x dependsOn/when), Webhook."""
from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest

from kestra_helpers import Emulator, error_text, flow, messages

from metaflow_orchestrators.emulators.kestra.triggers import Scheduler

UTC = dt.timezone.utc
LOG = """
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger ?? 'manual' }}"
"""


@pytest.fixture(scope="module", params=[1, 2])
def emu(request, tmp_path_factory):
    e = Emulator(request.param, str(tmp_path_factory.mktemp("ktrig")), auth=("u", "p"))
    yield e
    e.close()


def executions_of(emu, flow_id):
    r = emu.client.http.get("/api/v1/main/executions", params={
        "namespace": "conformance", "flowId": flow_id, "page": 1, "size": 50})
    return r.json()["results"]


def wait_for_executions(emu, flow_id, count, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = executions_of(emu, flow_id)
        if len(found) >= count:
            return [emu.client.wait(e["id"]) for e in found]
        time.sleep(0.05)
    raise AssertionError("%s: expected %d executions, got %d" % (flow_id, count, len(executions_of(emu, flow_id))))


@pytest.mark.emulator_internals
def test_schedule_fires_on_cron_ticks_in_timezone(emu):
    emu.client.deploy_ok(flow("scheduled", """
inputs:
  - {id: who, type: STRING, defaults: nobody}
triggers:
  - id: every_day_9_paris
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    timezone: Europe/Paris
    inputs: {who: scheduler}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.who }} {{ trigger.date }}"
"""))
    # A private scheduler on the same engine, so the background (real-clock) one cannot interfere.
    sched = Scheduler(emu.engine)
    start = dt.datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # 08:00 in Paris (UTC+2)
    assert [e for e in sched.tick(start) if e.flow_id == "scheduled"] == []  # first sight: arms the next tick
    assert [e for e in sched.tick(start + dt.timedelta(minutes=59)) if e.flow_id == "scheduled"] == []
    fired = [e for e in sched.tick(start + dt.timedelta(hours=1)) if e.flow_id == "scheduled"]
    assert len(fired) == 1
    exe = emu.client.wait(fired[0].id)
    assert exe["trigger"]["id"] == "every_day_9_paris"
    assert messages(emu.client, exe["id"]) == ["scheduler 2026-06-01T07:00:00.000Z"]
    assert [e for e in sched.tick(start + dt.timedelta(hours=2)) if e.flow_id == "scheduled"] == []


def test_schedule_fires_on_the_real_clock(emu):
    # withSeconds adds a leading seconds field (kestra.md §10.1): fires every second.
    emu.client.deploy_ok(flow("every_second", """
triggers:
  - {id: tick, type: io.kestra.plugin.core.trigger.Schedule, cron: "* * * * * *", withSeconds: true}
""" + LOG))
    try:
        fired = wait_for_executions(emu, "every_second", 1, timeout=6)
        assert fired[0]["trigger"]["id"] == "tick"
        assert fired[0]["trigger"]["variables"]["date"].endswith("Z")
    finally:
        emu.client.http.delete("/api/v1/main/flows/conformance/every_second")


def test_schedule_nickname_armed_not_fired(emu):
    # The background thread ticks every second on the real clock; @yearly is armed for the next
    # 1 January 00:00 and must not fire on sight (no backfill).
    emu.client.deploy_ok(flow("yearly", "triggers:\n  - {id: y, type: io.kestra.plugin.core.trigger.Schedule, cron: '@yearly'}\n" + LOG))
    time.sleep(1.2)
    assert executions_of(emu, "yearly") == []
    if emu.real:
        return  # the armed date is the emulator scheduler's state (case fix: it read it on the real engine)
    due = [d for k, d in emu.server.app.state.scheduler.next_fire.items() if k[1] == "yearly"]
    assert len(due) == 1 and (due[0].month, due[0].day, due[0].hour, due[0].minute) == (1, 1, 0, 0)


def flow_trigger(version, upstream, states="[SUCCESS]"):
    # Both majors render the trigger inputs in the UPSTREAM execution's context (see below; 2.0.0
    # records a FAILED execution without inputs for `{{ trigger.executionId }}`: case fix).
    if version >= 2:
        return """triggers:
  - id: after_up
    type: io.kestra.plugin.core.trigger.Flow
    inputs: {up: "{{ execution.id }}"}
    dependsOn:
      - {namespace: conformance, flowId: %s, states: %s}
""" % (upstream, states)
    # 1.x renders the trigger inputs in the UPSTREAM execution's context: `execution.id` is the
    # upstream's and `trigger` holds only `outputs` (core/.../trigger/Flow.java@v1.3.31 `evaluate`), so
    # `{{ trigger.executionId }}` fails and the trigger is dropped (case fix: the real 1.3.31 engine
    # logged "Failed to trigger flow ... invalid inputs"; test_flow_trigger_1x_inputs_context checks it).
    return """triggers:
  - id: after_up
    type: io.kestra.plugin.core.trigger.Flow
    inputs: {up: "{{ execution.id }}"}
    preconditions:
      id: up
      flows:
        - {namespace: conformance, flowId: %s, states: %s}
""" % (upstream, states)


def test_flow_trigger_on_upstream_success(emu):
    v = emu.version
    emu.client.deploy_ok(flow("upstream_ok", LOG))
    emu.client.deploy_ok(flow("upstream_bad", "tasks:\n  - {id: f, type: io.kestra.plugin.core.execution.Fail}\n"))
    emu.client.deploy_ok(flow("downstream", "inputs:\n  - {id: up, type: STRING}\n" + flow_trigger(v, "upstream_ok") + LOG))
    emu.client.deploy_ok(flow("on_failure", "inputs:\n  - {id: up, type: STRING}\n" + flow_trigger(v, "upstream_bad", "[FAILED]") + LOG))
    up = emu.client.run("conformance", "upstream_ok")
    down = wait_for_executions(emu, "downstream", 1)
    assert down[0]["inputs"]["up"] == up["id"]
    assert down[0]["trigger"]["variables"]["flowId"] == "upstream_ok"
    bad = emu.client.run("conformance", "upstream_bad")
    assert bad["state"]["current"] == "FAILED"
    assert wait_for_executions(emu, "on_failure", 1)[0]["inputs"]["up"] == bad["id"]
    time.sleep(0.3)
    assert len(executions_of(emu, "downstream")) == 1  # a FAILED upstream does not match [SUCCESS]


def test_flow_trigger_1x_conditions(emu):
    if emu.version >= 2:
        pytest.skip("conditions are removed in 2.x (rejected by the parser)")
    emu.client.deploy_ok(flow("cond_up", LOG))
    emu.client.deploy_ok(flow("cond_down", """triggers:
  - id: c
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - {type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: conformance, flowId: cond_up}
      - {type: io.kestra.plugin.core.condition.ExecutionStatus, in: [SUCCESS]}
""" + LOG))
    emu.client.run("conformance", "cond_up")
    assert len(wait_for_executions(emu, "cond_down", 1)) == 1


def test_flow_trigger_2x_when(emu):
    # `when` sees the upstream execution (`execution.state`), not `trigger.state`, which fails with
    # "Could not perform equals comparison" on the real 2.0.0 engine (case fix).
    if emu.version < 2:
        pytest.skip("`when` on triggers is 2.x")
    emu.client.deploy_ok(flow("when_up", "inputs:\n  - {id: go, type: STRING}\n" + LOG))
    emu.client.deploy_ok(flow("when_down", """triggers:
  - id: w
    type: io.kestra.plugin.core.trigger.Flow
    when: "{{ execution.state == 'SUCCESS' }}"
    dependsOn: [{namespace: conformance, flowId: when_up, states: [SUCCESS, FAILED]}]
""" + LOG))
    emu.client.run("conformance", "when_up", {"go": "x"})
    assert len(wait_for_executions(emu, "when_down", 1)) == 1


def test_webhook_body_as_trigger_body(emu):
    emu.client.deploy_ok(flow("hooked", """
triggers:
  - {id: hook, type: io.kestra.plugin.core.trigger.Webhook, key: s3cr3tKey}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.body.name }}"
"""))
    # Webhooks are open URLs even with basic auth (application.yml basic-auth.open-urls).
    r = httpx.post(emu.url + "/api/v1/main/executions/webhook/conformance/hooked/s3cr3tKey", json={"name": "alice"})
    assert r.status_code == 200, r.text
    exe = emu.client.wait(r.json()["id"])
    # the task's lines only: a real engine also logs other flows' trigger evaluations against this
    # execution (case fix)
    assert messages(emu.client, exe["id"], "log") == ["alice"]
    assert httpx.post(emu.url + "/api/v1/executions/webhook/conformance/hooked/wrong", json={}).status_code == 404


def test_flow_trigger_waits_for_all_upstream_flows(emu):
    # Several upstream flows: fires once ALL of them finished within the window, then resets.
    emu.client.deploy_ok(flow("multi_a", LOG))
    emu.client.deploy_ok(flow("multi_b", LOG))
    if emu.version >= 2:
        trig = """triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    dependsOn:
      - {namespace: conformance, flowId: multi_a, states: [SUCCESS]}
      - {namespace: conformance, flowId: multi_b, states: [SUCCESS]}
"""
    else:
        trig = """triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: both
      timeWindow: {type: DURATION_WINDOW, window: PT1H}
      flows:
        - {namespace: conformance, flowId: multi_a, states: [SUCCESS]}
        - {namespace: conformance, flowId: multi_b, states: [SUCCESS]}
"""
    emu.client.deploy_ok(flow("multi_down", trig + LOG))
    emu.client.run("conformance", "multi_a")
    emu.client.run("conformance", "multi_a")
    time.sleep(0.3)
    assert executions_of(emu, "multi_down") == []  # b has not run yet
    emu.client.run("conformance", "multi_b")
    assert len(wait_for_executions(emu, "multi_down", 1)) == 1
    emu.client.run("conformance", "multi_b")
    time.sleep(0.3)
    assert len(executions_of(emu, "multi_down")) == 1  # reset after firing: a must run again


def test_flow_trigger_upstream_entries_are_strict(emu):
    key = "dependsOn" if emu.version >= 2 else "preconditions"
    body = ("    dependsOn: [{namespace: conformance, flowId: x, state: [SUCCESS]}]\n" if key == "dependsOn"
            else "    preconditions: {id: p, flows: [{namespace: conformance, flowId: x, state: [SUCCESS]}]}\n")
    r = emu.client.deploy(flow("strict_up", "triggers:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Flow\n" + body + LOG))
    assert r.status_code == 422 and 'Unrecognized field "state"' in error_text(r)  # 1.x message / 2.x detail


def test_flow_trigger_1x_inputs_context(emu):
    # 1.x: `trigger.executionId` is not in the trigger inputs' context: no execution
    # (core/io/kestra/plugin/core/trigger/Flow.java@v1.3.31 `evaluate`, warns "invalid inputs").
    if emu.version >= 2:
        pytest.skip("1.x rendering context")
    emu.client.deploy_ok(flow("ctx_up", LOG))
    emu.client.deploy_ok(flow("ctx_down", """inputs:
  - {id: up, type: STRING}
triggers:
  - id: after_up
    type: io.kestra.plugin.core.trigger.Flow
    inputs: {up: "{{ trigger.executionId }}"}
    preconditions:
      id: up
      flows:
        - {namespace: conformance, flowId: ctx_up, states: [SUCCESS]}
""" + LOG))
    emu.client.run("conformance", "ctx_up")
    time.sleep(1.5)
    assert executions_of(emu, "ctx_down") == []
