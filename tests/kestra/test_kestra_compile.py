"""The compiled Kestra documents, without running tasks: every example is valid for the
emulator's strict parser in both versions, compiling is deterministic, no user value
becomes a template, and what Kestra cannot express fails with a clear error."""
import os
import re
import sys
from dataclasses import replace

import pytest
import yaml

import flowrunner as fr
from metaflow_extensions.orchestrators.plugins.code_package import CodePackage, bootstrap_lines
from metaflow_extensions.orchestrators.plugins.kestra.compiler import KestraTarget, compile_flow, dump
from metaflow_extensions.orchestrators.plugins.plan import iter_blocks

EXAMPLES = [
    "linear", "branch", "nested_split", "foreach", "nested_foreach", "split_in_foreach", "foreach_in_split",
    "switch", "switch_in_foreach", "switch_end_of_foreach", "foreach_in_switch", "branch_in_switch",
    "switch_in_branch", "custom_names", "single_step", "decorators", "timeout_fail", "failing", "project_flow",
    "scheduled", "scheduled_cron", "triggered", "on_finish", "config_flow", "recursive_switch", "switch_skip",
    "recursive_in_foreach",
]


def compiled(name, version, **overrides):
    plan = fr.load_plan(name)
    target = KestraTarget(namespace="metaflow", flow_id=plan.flow_name, version=version, python=sys.executable,
                          **overrides)
    return compile_flow(plan, fr.deploy_options(name, engine="kestra"), target)


def tasks(doc):
    """Every task at every depth (flowable children and switch cases)."""
    for task in doc["tasks"]:
        yield task
        for children in [task.get("tasks") or []] + list((task.get("cases") or {}).values()):
            yield from tasks({"tasks": children})


@pytest.fixture(scope="module")
def validators():
    from metaflow_orchestrators.emulators.kestra import start

    with start(version=1) as one, start(version=2) as two:
        yield {1: one.url, 2: two.url}


def _real_client():
    from metaflow_extensions.orchestrators.plugins.kestra.client import KestraClient

    return KestraClient(os.environ["KESTRA_HOST"], username=os.environ.get("KESTRA_USER"),
                        password=os.environ.get("KESTRA_PASSWORD"))


@pytest.mark.parametrize("version", [1, 2, pytest.param("real", marks=[
    pytest.mark.real_kestra,
    pytest.mark.skipif(not os.environ.get("KESTRA_HOST"), reason="KESTRA_HOST is not set: no real Kestra")])])
@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_is_a_valid_flow(validators, name, version):
    from metaflow_extensions.orchestrators.plugins.kestra.client import KestraClient

    if version == "real":  # Kestra's own validator, for the server's major version
        with _real_client() as client:
            text = dump(compiled(name, client.major))
            assert client.validate_flow(text) == []
        return
    text = dump(compiled(name, version))
    with KestraClient(validators[version]) as client:
        assert client.validate_flow(text) == []
    assert text == dump(compiled(name, version))  # same text twice: no timestamps, stable order


PACKAGE = CodePackage(url="/shared/.metaflow/ForeachFlow/data/ab/ab12", sha="ab12", datastore="local",
                      metadata='{"version": 0, "archive_format": "tgz", "mfcontent_version": 1}', flow="foreach.py")


@pytest.mark.parametrize("version", [1, 2, pytest.param("real", marks=[
    pytest.mark.real_kestra,
    pytest.mark.skipif(not os.environ.get("KESTRA_HOST"), reason="KESTRA_HOST is not set: no real Kestra")])])
def test_a_flow_shipped_as_a_code_package_is_valid_and_names_no_local_path(validators, version):
    from metaflow_extensions.orchestrators.plugins.kestra.client import KestraClient

    plan = fr.load_plan("foreach")
    options = replace(fr.deploy_options("foreach", engine="kestra"), code_package=PACKAGE)
    client = _real_client() if version == "real" else KestraClient(validators[version])
    with client:
        major = client.major if version == "real" else version
        doc = compile_flow(plan, options, KestraTarget(namespace="metaflow", flow_id=plan.flow_name, version=major))
        text = dump(doc)
        assert client.validate_flow(text) == []
    assert fr.example("foreach") not in text and os.path.dirname(fr.example("foreach")) not in text
    steps = [t for t in tasks(doc) if t["type"].endswith("Commands")]
    assert steps and all(t["commands"][:-1] == bootstrap_lines() and t["env"]["METAFLOW_CODE_SHA"] == "ab12"
                         for t in steps)
    assert doc["variables"]["metaflow"]["flow"]["flow"] == "foreach.py"


def test_versions_differ_where_kestra_does():
    one, two = compiled("foreach", 1), compiled("foreach", 2)
    types = lambda doc: {t["type"].rsplit(".", 1)[-1] for t in tasks(doc)}
    assert "ForEach" in types(one) and "Loop" not in types(one)
    assert "Loop" in types(two) and "ForEach" not in types(two)
    body_one = next(t for t in tasks(one) if t.get("env", {}).get("MFO_INDEX_PATH"))
    assert body_one["env"]["MFO_INDEX_PATH"] == "{{ taskrun.value }}"
    body_two = next(t for t in tasks(two) if t.get("env", {}).get("MFO_INDEX_PATH"))
    assert body_two["env"]["MFO_INDEX_PATH"] == "{{ item.value }}"
    trig1 = compiled("on_finish", 1)["triggers"][0]
    trig2 = compiled("on_finish", 2)["triggers"][0]
    assert "preconditions" in trig1 and "dependsOn" in trig2


def test_decorators_map_to_retry_timeout_and_attempt_counter():
    by_id = {t["id"]: t for t in tasks(compiled("decorators", 2))}
    # minutes_between_retries=0: the smallest interval Kestra 2.0 accepts (1 ms).
    assert by_id["flaky"]["retry"] == {"type": "constant", "interval": "PT0.001S", "maxAttempts": 3}
    assert by_id["risky"]["retry"]["maxAttempts"] == 4  # @catch: Metaflow allows 3 fallback retries
    assert by_id["checked"]["timeout"] == "PT90S"
    assert "@resources: cpu=1.0, memory_mb=512" in by_id["checked"]["description"]
    assert by_id["flaky"]["env"]["MFO_ATTEMPT"] == "{{ taskrun.attemptsCount }}"
    # @environment values that no render can change are plain env, readable in Kestra.
    assert by_id["checked"]["env"]["GREETING"] == "hello"


def test_workflow_timeout_is_an_sla_and_schedule_a_valid_cron():
    doc = compiled("scheduled", 2, workflow_timeout=3600)
    assert "timeout" not in doc
    assert doc["sla"] == [{"id": "workflow-timeout", "type": "MAX_DURATION", "behavior": "FAIL", "duration": "PT3600S",
                           "labels": {"metaflow-workflow-timeout": "3600s"}}]
    assert doc["triggers"][0]["cron"] == "0 0 * * *"


def test_parameters_become_typed_inputs_per_version():
    one = {i["id"]: i for i in compiled("linear", 1)["inputs"]}
    two = {i["id"]: i for i in compiled("linear", 2)["inputs"]}
    assert one["flag"]["type"] == two["flag"]["type"] == "BOOL"
    # JSON parameters travel as JSON text (Kestra drops null map entries from JSON values).
    assert one["max-items"]["type"] == "INT" and one["config_json"]["type"] == two["config_json"]["type"] == "STRING"
    assert one["config_json"]["description"].endswith("(JSON)")
    # Both versions: an input with a default must be required (InputValidator, Kestra >= 1.1).
    assert two["alpha"]["required"] is True and one["alpha"]["required"] is True
    assert all(i["required"] for i in list(one.values()) + list(two.values()) if "defaults" in i)
    assert "description" in one["label"]


def test_user_values_never_reach_pebble(tmp_path):
    """A parameter default, help text and tag full of template syntax stay data."""
    source = '''
from metaflow import FlowSpec, Parameter, step

class EvilFlow(FlowSpec):
    """Doc {{ execution.id }} {% raw %}"""
    p = Parameter("p", default="{{ secret('x') }}", help="{% if %} {# #}")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        print(self.p)

if __name__ == "__main__":
    EvilFlow()
'''
    flow = tmp_path / "evil.py"
    flow.write_text(source)
    proc = fr.subprocess.run([sys.executable, str(flow), "--no-pylint", "kestra", "compile", "--tag", "{{ t }}"],
                             capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = yaml.safe_load(proc.stdout)
    inputs = {i["id"]: i for i in doc["inputs"]}
    assert "defaults" not in inputs["p"] and inputs["p"]["required"] is False  # Metaflow applies it
    assert doc["variables"]["metaflow"]["flow"]["tags"] == ["{{ t }}"]  # data, read only through toJson
    for task in tasks(doc):
        rendered = [v for v in task.get("env", {}).values()] + task.get("commands", []) + [task.get("message", "")]
        for value in rendered:
            if "{{" in value:
                assert value.startswith("{{ ") and "secret" not in value and " t " not in value
                assert "vars." not in value and "inputs" not in value or value.endswith("| toJson | base64encode }}")


def test_recursive_switch_loops_with_loop_until():
    for version in (1, 2):
        doc = compiled("recursive_switch", version)
        loop = next(t for t in tasks(doc) if t["id"] == "mf-loop-loop")
        assert loop["checkFrequency"]["interval"] == "PT0.001S"  # 2.0: at least 1 ms
        assert loop["type"] == "io.kestra.plugin.core.flow.LoopUntil"
        assert loop["condition"] == "{{ outputs['loop'].vars.branch != 'loop' }}"
        assert loop["failOnMaxReached"] is True
        assert [t["id"] for t in loop["tasks"]] == ["loop"]
        assert loop["tasks"][0]["env"]["MFO_ITERATION"] == "{{ taskrun.iteration }}"
        end = next(t for t in tasks(doc) if t["id"] == "end")
        assert end["env"]["MFO_LOOPS"] == "{{ [outputs['loop'].vars.loops] }}"


def test_a_switch_has_a_case_for_every_branch():
    """Real Kestra fails a Switch whose value matches no case (Switch.childTasks +
    FlowableUtils.resolveState@v1.3.34): a branch that goes straight to the merge gets a
    no-op Log task."""
    plan = fr.load_plan("switch_skip")
    blocks = {b.head.name: b for b in iter_blocks(plan.root) if type(b).__name__ == "Switch"}
    assert sorted(blocks) == ["body", "start"]  # at top level and inside the foreach
    for version in (1, 2):
        switches = [t for t in tasks(compiled("switch_skip", version)) if t["type"].endswith("flow.Switch")]
        assert len(switches) == 2
        for switch in switches:
            block = blocks[switch["id"][len("mf-switch-"):]]
            assert sorted(switch["cases"]) == sorted(c.target for c in block.cases)
            assert "defaults" not in switch
            empty = [c for c in block.cases if not len(c.body)]
            assert len(empty) == 1
            assert [t["type"] for t in switch["cases"][empty[0].target]] == ["io.kestra.plugin.core.log.Log"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_compiled_flows_are_readable(name):
    """No opaque blob: every task names its step on its command line, the settings are
    plain data in vars.metaflow, and the compiling machine's paths appear only where the
    worker still needs them (the flow file and a local datastore root, until the flow
    ships as a code package)."""
    import re

    for version in (1, 2):
        doc = compiled(name, version)
        text = dump(doc)
        assert not re.search(r"[A-Za-z0-9+/]{60,}={0,2}", text), "a base64-like blob in the compiled flow"
        flow = doc["variables"]["metaflow"]["flow"]
        allowed = [flow["flow"]] + [o.split("=", 1)[1] for o in flow["top"] if o.startswith("--datastore-root=")]
        # The worker interpreter is what --worker-python named (here this interpreter's path).
        rest = text.replace("MFO_PYTHON: %s" % sys.executable, "")
        for path in allowed:
            assert path.startswith("/")
            rest = rest.replace("%s: %s" % ("flow", path), "").replace("--datastore-root=" + path, "")
        for path in allowed:
            assert "/" + path.split("/")[1] + "/" not in rest, "an absolute path outside vars.metaflow.flow"
        for task in tasks(doc):
            if task["type"].endswith("shell.Commands") and task["id"] != "metaflow-init":
                assert task["commands"][0].endswith(" --step %s" % task["id"])
                assert task["id"] in doc["variables"]["metaflow"]["steps"]


def _docker(version, **target):
    plan = fr.load_plan("foreach")
    options = replace(fr.deploy_options("foreach", engine="kestra"), code_package=PACKAGE)
    return compile_flow(plan, options, KestraTarget(namespace="metaflow", flow_id=plan.flow_name, version=version,
                                                    task_runner="docker", **target))


def test_the_docker_task_runner_runs_every_task_in_the_image_with_the_datastore_mounted():
    doc = _docker(2, image="ghcr.io/acme/mf-worker:1")
    steps = [t for t in tasks(doc) if t["type"].endswith("Commands")]
    root = os.path.dirname(fr.deploy_options("foreach", engine="kestra").datastore_root.rstrip("/"))
    for task in steps:
        assert task["containerImage"] == "ghcr.io/acme/mf-worker:1"
        assert task["taskRunner"] == {"type": "io.kestra.plugin.scripts.runner.docker.Docker",
                                      "volumes": ["%s:%s" % (root, root)]}
        # A fresh container per task reuses nothing it unpacks: no bytecode compile there.
        assert task["commands"][:-1] == bootstrap_lines(compile_bytecode=False)
        assert not any("compileall" in line for line in task["commands"])


@pytest.mark.parametrize("target, message", [
    ({}, "needs --image"),
    ({"image": "img:{{ secret('x') }}"}, "Pebble"),
])
def test_the_docker_task_runner_refuses_what_cannot_work(target, message):
    from metaflow_extensions.orchestrators.plugins.plan import PlanError

    with pytest.raises(PlanError, match=re.escape(message)):
        _docker(2, **target)
    plan = fr.load_plan("foreach")
    with pytest.raises(PlanError, match="needs the code package"):
        compile_flow(plan, fr.deploy_options("foreach", engine="kestra"),
                     KestraTarget(namespace="metaflow", flow_id=plan.flow_name, task_runner="docker", image="i"))


@pytest.mark.real_kestra
@pytest.mark.skipif(not os.environ.get("KESTRA_HOST"), reason="KESTRA_HOST is not set: no real Kestra (the emulator "
                    "runs only the Process task runner)")
def test_the_docker_task_runner_document_is_valid_for_the_real_engine():
    with _real_client() as client:
        assert client.validate_flow(dump(_docker(client.major, image="ghcr.io/acme/mf-worker:1"))) == []


def test_no_yaml_anchors_even_where_tasks_share_values():
    """Kestra's YAML reader (Jackson) does not expand aliases: the real 2.0 engine reported a
    shared `taskRunner` written as an alias as null. Every task is written out whole."""
    text = dump(_docker(2, image="img:1"))
    assert not re.search(r"(^|\s)[&*]id\d+", text)


@pytest.mark.parametrize("name", ["linear", "custom_names", "foreach", "single_step"])
def test_the_first_step_also_starts_the_run(name):
    """No task of its own for `metaflow init`: the first step's task runs it first, with the
    run's inputs and labels; every other task reads what that task reported, if anything."""
    for version in (1, 2):
        doc = compiled(name, version)
        first, start = doc["tasks"][0], fr.load_plan(name).root.blocks[0]
        start_name = getattr(start, "head", start).name
        assert first["id"] == start_name and first["commands"][-1].endswith("--step %s" % start_name)
        assert first["env"]["MFO_INIT"] == "{{ vars.metaflow.init | toJson | base64encode }}"
        assert first["env"]["MFO_RESUME"] == "{{ labels | toJson }}" and "MFO_ORIGIN_RUN" not in first["env"]
        assert ("MFO_PARAMS" in first["env"]) == ("inputs" in doc) == ("inputFiles" in first)
        assert "First starts the run" in first["description"]
        others = [t for t in tasks(doc) if t is not first and "env" in t]
        assert not any("MFO_INIT" in t["env"] or "MFO_PARAMS" in t["env"] for t in others)
        assert all("metaflow-init" not in dump({"t": t}) for t in others)


def test_nested_loop_iterations_read_the_run_from_the_first_step():
    """2.x: a task two Loops deep sees its iteration's parent execution, so it reads the
    run's execution id from what the first step's task reported."""
    deep = [t for t in tasks(compiled("nested_foreach", 2)) if t.get("id") == "level2"]
    assert deep and deep[0]["env"]["MFO_EXECUTION_ID"] == "{{ outputs['start'].vars.execution_id }}"
