"""Strict parsing like Kestra (kestra.md §2, §14): every rejection names what is wrong."""
from __future__ import annotations

import textwrap

import pytest

from kestra_helpers import flow
from metaflow_orchestrators.emulators.kestra.parser import FlowValidationError, parse_flow

SHELL = """  - id: {id}
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: {{type: io.kestra.plugin.core.runner.Process}}
    commands: [echo hi]
"""


def doc(body: str, flow_id: str = "f", namespace: str = "ns") -> str:
    return "id: %s\nnamespace: %s\n%s" % (flow_id, namespace, textwrap.dedent(body))


def minimal(extra: str = "", flow_id: str = "f", namespace: str = "ns") -> str:
    return doc(extra + "tasks:\n" + SHELL.format(id="t1"), flow_id, namespace)


def rejects(source: str, version: int, fragment: str) -> None:
    with pytest.raises(FlowValidationError) as info:
        parse_flow(source, version)
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("version", [1, 2])
def test_minimal_flow_parses(version):
    flow = parse_flow(minimal(), version)
    assert flow["tasks"][0]["id"] == "t1"


@pytest.mark.parametrize("version", [1, 2])
def test_unknown_properties_rejected_everywhere(version):
    rejects(minimal("timeout: PT1H\n"), version, 'Unrecognized field "timeout"')  # no flow timeout (kestra.md §2.1)
    task = SHELL.format(id="t1") + "    bogus: 1\n"
    rejects(doc("tasks:\n" + task), version, 'Unrecognized field "bogus"')
    retry = SHELL.format(id="t1") + "    retry: {type: constant, interval: PT1S, maxAttempts: 2, foo: 1}\n"
    rejects(doc("tasks:\n" + retry), version, 'Unrecognized field "foo"')
    rejects(minimal("inputs:\n  - {id: a, type: STRING, colour: red}\n"), version, 'Unrecognized field "colour"')


@pytest.mark.parametrize("version", [1, 2])
def test_duplicate_yaml_keys_rejected(version):
    rejects(doc("tasks:\n" + SHELL.format(id="t1") + "    commands: [echo again]\n"), version,
            "Duplicate field 'commands'")


@pytest.mark.parametrize("version", [1, 2])
def test_duplicate_task_ids_across_the_whole_flow(version):
    body = """\
    tasks:
      - id: par
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: t1
                type: io.kestra.plugin.core.log.Log
                message: a
      - id: sw
        type: io.kestra.plugin.core.flow.Switch
        value: x
        cases:
          x:
            - id: t1
              type: io.kestra.plugin.core.log.Log
              message: b
    """
    rejects(doc(body), version, "Duplicate task id with name [t1]")


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("flow_id,namespace,fragment", [
    ("-bad", "ns", "id: must match"),
    ("ok", "Upper", "namespace: must match"),
    ("ok", "has space", "namespace: must match"),
    ("kill", "ns", "reserved"),            # reserved since 1.0
    ("executions", "ns", "reserved"),
])
def test_identifier_rules(version, flow_id, namespace, fragment):
    rejects(minimal(flow_id=flow_id, namespace=namespace), version, fragment)


@pytest.mark.parametrize("version", [1, 2])
def test_task_id_has_no_dots(version):
    rejects(doc("tasks:\n" + SHELL.format(id="a.b")), version, "must match")


@pytest.mark.parametrize("version", [1, 2])
def test_unknown_type_and_missing_required(version):
    rejects(doc("tasks:\n  - {id: x, type: io.kestra.plugin.nope.Task}\n"), version, "Invalid type: io.kestra.plugin.nope.Task")
    rejects(doc("tasks:\n  - {id: x, type: io.kestra.plugin.core.flow.Sequential}\n"), version, "tasks: must not be null")
    rejects(doc("tasks: []\n"), version, "non-empty")


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("cron", ["0 0 * * ? *", "0 0 ? * SUN", "61 * * * *", "* * *", "@sometimes"])
def test_invalid_cron_rejected(version, cron):
    trig = "triggers:\n  - {id: s, type: io.kestra.plugin.core.trigger.Schedule, cron: '%s'}\n" % cron
    rejects(minimal(trig), version, "invalid cron")


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("cron", ["0 9 * * 1", "*/5 * * * *", "@daily", "@hourly", "0 0 * * SUN"])
def test_valid_cron_accepted(version, cron):
    trig = "triggers:\n  - {id: s, type: io.kestra.plugin.core.trigger.Schedule, cron: '%s', timezone: Europe/Paris}\n" % cron
    parse_flow(minimal(trig), version)


FOREACH = """tasks:
  - id: fe
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2]
    tasks:
      - {id: b, type: io.kestra.plugin.core.log.Log, message: x}
"""
LOOP = FOREACH.replace("ForEach", "Loop")


def test_foreach_is_1x_only_and_loop_2x_only():
    parse_flow(doc(FOREACH), 1)
    rejects(doc(FOREACH), 2, "Invalid type: io.kestra.plugin.core.flow.ForEach")
    parse_flow(doc(LOOP), 2)
    rejects(doc(LOOP), 1, "Invalid type: io.kestra.plugin.core.flow.Loop")
    rejects(doc(LOOP.replace("    tasks:", "    brk: 1\n    tasks:")), 2, 'Unrecognized field "brk"')


def test_max_attempt_alias_1x_only():
    task = SHELL.format(id="t1") + "    retry: {type: constant, interval: PT1S, maxAttempt: 2}\n"
    parse_flow(doc("tasks:\n" + task), 1)
    rejects(doc("tasks:\n" + task), 2, 'Unrecognized field "maxAttempt"')


def test_enum_input_removed_in_2x():
    enum = "inputs:\n  - {id: e, type: ENUM, values: [a, b]}\n"
    parse_flow(minimal(enum), 1)
    rejects(minimal(enum), 2, "Invalid input type: ENUM")


def test_boolean_input_1x_only_bool_everywhere():
    boolean = "inputs:\n  - {id: b, type: BOOLEAN, defaults: true}\n"
    parse_flow(minimal(boolean), 1)
    rejects(minimal(boolean), 2, "Invalid input type: BOOLEAN")
    for version in (1, 2):
        parse_flow(minimal(boolean.replace("BOOLEAN", "BOOL")), version)


def test_plugin_defaults_rejected_in_2x():
    defaults = "pluginDefaults:\n  - {type: io.kestra.plugin.scripts.shell.Commands, values: {}}\n"
    parse_flow(minimal(defaults), 1)
    rejects(minimal(defaults), 2, 'Unrecognized field "pluginDefaults"')


def test_flow_trigger_forms_per_version():
    v1 = """triggers:
  - id: up
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: p
      flows: [{namespace: ns, flowId: other, states: [SUCCESS]}]
"""
    v2 = """triggers:
  - id: up
    type: io.kestra.plugin.core.trigger.Flow
    dependsOn: [{namespace: ns, flowId: other, states: [SUCCESS]}]
"""
    parse_flow(minimal(v1), 1)
    rejects(minimal(v1), 2, 'Unrecognized field "preconditions"')
    parse_flow(minimal(v2), 2)
    rejects(minimal(v2), 1, 'Unrecognized field "dependsOn"')
    conditions = v1.replace("preconditions:\n      id: p\n      flows: [{namespace: ns, flowId: other, states: [SUCCESS]}]",
                            "conditions: [{type: io.kestra.plugin.core.condition.ExecutionStatus, in: [SUCCESS]}]")
    rejects(minimal(conditions), 2, 'Unrecognized field "conditions"')


@pytest.mark.parametrize("version", [1, 2])
def test_labels_and_system_labels(version):
    parse_flow(minimal("labels: {team: data}\n"), version)
    parse_flow(minimal("labels: [{key: team, value: data}]\n"), version)
    rejects(minimal("labels: {system.x: y}\n"), version, "System labels")
    rejects(minimal("labels: {Team: y}\n"), version, "lowercase")


@pytest.mark.parametrize("version", [1, 2])
def test_only_process_runner(version):
    task = SHELL.format(id="t1").replace("io.kestra.plugin.core.runner.Process", "io.kestra.plugin.scripts.runner.docker.Docker")
    rejects(doc("tasks:\n" + task), version, "taskRunner")


@pytest.mark.parametrize("version", [1, 2])
def test_bad_durations_and_sla(version):
    rejects(doc("tasks:\n" + SHELL.format(id="t1") + "    timeout: 10s\n"), version, "Invalid duration")
    rejects(minimal("sla:\n  - {id: s, type: MAX_DURATION, behavior: EXPLODE, duration: PT1S}\n"), version, "behavior")
    parse_flow(minimal("sla:\n  - {id: s, type: MAX_DURATION, behavior: FAIL, duration: PT1H}\n"), version)


@pytest.mark.parametrize("version", [1, 2])
def test_multiple_errors_reported_together(version):
    with pytest.raises(FlowValidationError) as info:
        parse_flow(minimal("bogus: 1\n", namespace="BAD"), version)
    assert len(info.value.errors) >= 2


def test_plugin_defaults_applied_in_1x():
    src = doc("""\
    pluginDefaults:
      - type: io.kestra.plugin.scripts
        values:
          taskRunner: {type: io.kestra.plugin.core.runner.Process}
          env: {A: "1"}
      - type: io.kestra.plugin.scripts.shell.Commands
        forced: true
        values: {env: {B: "2"}}
    tasks:
      - id: t1
        type: io.kestra.plugin.scripts.shell.Commands
        env: {A: "own", B: "own"}
        commands: [echo hi]
    """)
    task = parse_flow(src, 1)["tasks"][0]
    assert task["taskRunner"]["type"] == "io.kestra.plugin.core.runner.Process"
    assert task["env"] == {"A": "own", "B": "2"}  # non-forced yields to the task, forced wins


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("prop", ["outputFiles: [a.txt]", "namespaceFiles: {enabled: true}"])
def test_unemulated_properties_fail_loudly(version, prop):
    rejects(doc("tasks:\n" + SHELL.format(id="t1") + "    %s\n" % prop), version, "not supported by this emulator")


@pytest.mark.parametrize("version", [1, 2])
def test_input_rules(version):
    # core/io/kestra/core/validations/validator/InputValidator.java@v1.3.34/@v2.0.0: a default with
    # `required: false` is rejected; `required` defaults to true (models/flows/Input.java), so a default
    # alone is fine; a default with a prefill is rejected.
    rejects(minimal("inputs:\n  - {id: a, type: STRING, required: false, defaults: x}\n"), version,
            "Inputs with a default value must be required, since the default is always applied.")
    parse_flow(minimal("inputs:\n  - {id: a, type: STRING, defaults: x}\n"), version)
    parse_flow(minimal("inputs:\n  - {id: a, type: STRING, required: true, defaults: x}\n"), version)
    parse_flow(minimal("inputs:\n  - {id: a, type: STRING, required: false}\n"), version)
    rejects(minimal("inputs:\n  - {id: a, type: STRING, defaults: x, prefill: y}\n"), version,
            "cannot also have a prefill")
    # No source requires Schedule triggers to supply inputs, and 2.0 leaves Pebble defaults alone
    # (FlowValidator.java@v2.0.0 `literalValueViolation`).
    sched = "inputs:\n  - {id: a, type: STRING}\ntriggers:\n  - {id: s, type: io.kestra.plugin.core.trigger.Schedule, cron: '@daily'}\n"
    parse_flow(minimal(sched), version)
    parse_flow(minimal("inputs:\n  - {id: a, type: STRING, defaults: '{{ flow.id }}'}\n"), version)


@pytest.mark.parametrize("version", [1, 2])
def test_yaml_1_2_scalars(version):
    # Jackson: `no`/`yes`/`on` are strings, so they are valid task ids.
    flow = parse_flow(doc("tasks:\n  - {id: no, type: io.kestra.plugin.core.log.Log, message: on}\n"), version)
    assert flow["tasks"][0]["id"] == "no" and flow["tasks"][0]["message"] == "on"


ALIASED = """tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: &msg hello
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: *msg
"""


@pytest.mark.parametrize("version", [1, 2])
def test_a_yaml_alias_is_its_anchor_name(version):
    """Jackson's YAML parser reads an alias as the anchor's name (JacksonMapper.ofYaml@v1.3.25)."""
    tasks = parse_flow(doc(ALIASED), version)["tasks"]
    assert [t["message"] for t in tasks] == ["hello", "msg"]


def test_a_yaml_alias_is_stored_as_its_anchor_name(both):
    """The same document through `POST /flows`, on the emulators and the real engines."""
    stored = both.client.deploy_ok(flow("aliased", ALIASED))
    assert [t["message"] for t in stored["tasks"]] == ["hello", "msg"]
