"""The compiled Windmill documents, without running tasks: every example passes Windmill's
own validator (npm windmill-yaml-validator) and the Windmill emulator's flows/create,
compiling is deterministic, no user value becomes script text or a JavaScript expression,
and what Windmill cannot express fails with a clear one-line error."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import flowrunner as fr
from metaflow_extensions.orchestrators.plugins.code_package import bootstrap_lines
from metaflow_extensions.orchestrators.plugins.plan import PlanError
from metaflow_extensions.orchestrators.plugins.windmill import compiler, naming, scripts
from metaflow_extensions.orchestrators.plugins.windmill.compiler import WindmillTarget, compile_flow, dump

EXAMPLES = [
    "linear", "branch", "nested_split", "foreach", "nested_foreach", "split_in_foreach", "foreach_in_split",
    "switch", "switch_in_foreach", "switch_end_of_foreach", "foreach_in_switch", "branch_in_switch",
    "switch_in_branch", "custom_names", "single_step", "decorators", "timeout_fail", "failing", "project_flow",
    "scheduled", "scheduled_cron", "config_flow", "recursive_switch", "switch_skip", "recursive_in_foreach",
    "triggered", "on_finish",
]
VALIDATOR = os.path.join(os.path.dirname(__file__), "validate_windmill.js")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The only JavaScript our documents hold: fixed shapes over our own module ids.
_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_REF = r"results\.%s(?:\.at\(-1\))?" % _ID
JS_SHAPES = [re.compile(p) for p in (
    r"flow_input", r"flow_input\.iter(?:_parent)*\.(?:value|index)",
    r"results\.%s\.(?:execution_id|origin_run_id|foreach_indices|foreach_width)" % _ID,
    r"%s" % _REF, r"\[%s(?:, %s)*\]" % (_REF, _REF),
    r"%s\.branch === \"%s\"" % (_REF, _ID), r"result\.branch !== \"%s\"" % _ID,
)]


def compiled(name, **overrides):
    plan = fr.load_plan(name, engine="windmill")
    target = WindmillTarget(workspace="mfo", path=compiler.flow_path(plan.flow_name), python=sys.executable,
                            **overrides)
    return plan, target, compile_flow(plan, fr.deploy_options(name, engine="windmill"), target)


def modules(mods):
    """Every module at every depth (loop bodies, branches, branchone default)."""
    for module in mods:
        yield module
        value = module["value"]
        yield from modules(value.get("modules") or [])
        for branch in value.get("branches") or []:
            yield from modules(branch["modules"])
        yield from modules(value.get("default") or [])


def expressions(doc):
    for module in modules(doc["value"]["modules"]):
        value = module["value"]
        for transform in (value.get("input_transforms") or {}).values():
            if transform["type"] == "javascript":
                yield transform["expr"]
        if value.get("iterator"):
            yield value["iterator"]["expr"]
        for branch in value.get("branches") or []:
            if "expr" in branch:
                yield branch["expr"]
        if module.get("stop_after_if"):
            yield module["stop_after_if"]["expr"]


@pytest.fixture(scope="module")
def documents():
    return {name: compiled(name) for name in EXAMPLES}


def windmill_validator(docs):
    if shutil.which("node") is None or not os.path.isdir(os.path.join(ROOT, "node_modules", "windmill-yaml-validator")):
        pytest.fail("windmill-yaml-validator is not installed: run `npm ci` at the repository root")
    proc = subprocess.run(["node", VALIDATOR], input=json.dumps(docs), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {r["name"]: r["errors"] for r in json.loads(proc.stdout)}


def test_every_example_passes_windmills_own_validator(documents):
    docs = [{"name": n, "type": "flow", "doc": {k: v for k, v in doc.items() if k != "path"}}
            for n, (_, _, doc) in documents.items()]
    docs += [{"name": n + ".schedule", "type": "schedule", "doc": compiler.schedule_of(plan, target)}
             for n, (plan, target, _) in documents.items() if plan.schedule]
    assert {n: e for n, e in windmill_validator(docs).items() if e} == {}


def test_the_validator_can_fail():
    errors = windmill_validator([{"name": "bad", "type": "flow",
                                  "doc": {"summary": "x", "value": {"modules": [{"id": "a", "value": {"type": "nope"}}]}}}])
    assert errors["bad"]


def test_every_example_is_accepted_by_flows_create(documents):
    from metaflow_orchestrators.emulators.windmill import start
    from metaflow_extensions.orchestrators.plugins.windmill.client import WindmillClient

    with start(token="t", workspace="mfo") as wm, WindmillClient(wm.url, token="t", workspace="mfo") as client:
        client.ensure_folder("metaflow")
        for name, (_, _, doc) in documents.items():
            client.upsert_flow(doc)
            # The stored value is re-serialized by the server, which spells out serde defaults; every
            # control field is already explicit in ours, so the only addition is `Branch.parallel`
            # (`default_true`, no runtime effect; windmill-types/src/flows.rs@v1.788.0): a re-deploy
            # of the same document sees it is deployed already.
            stored = client.get_flow(doc["path"])
            assert stored["value"] == compiler.stored_value(doc["value"]), name
            assert _without_branch_parallel(stored["value"]) == doc["value"], name
            assert compiler.same_flow(stored, doc), name
            assert not compiler.same_flow(stored, dict(doc, summary=doc["summary"] + " (changed)")), name
            assert not compiler.same_flow(dict(stored, archived=True), doc), name


def _without_branch_parallel(value):
    if isinstance(value, list):
        return [_without_branch_parallel(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _without_branch_parallel(v) for k, v in value.items()}
    if "branches" in out and isinstance(out["branches"], list):
        out["branches"] = [{k: v for k, v in b.items() if k != "parallel"} for b in out["branches"]]
    return out


def test_control_fields_are_always_explicit(documents):
    """Deployed flows default skip_failure(s) to true (windmill-errata 8); the server
    rejects stop_after_if without skip_if_stopped (errata 1)."""
    for name, (_, _, doc) in documents.items():
        for module in modules(doc["value"]["modules"]):
            value = module["value"]
            if value["type"] in ("forloopflow", "whileloopflow"):
                assert value["skip_failures"] is False, (name, module["id"])
            for branch in value.get("branches") or []:
                assert branch["skip_failure"] is False, (name, module["id"])
            if "stop_after_if" in module:
                assert module["stop_after_if"]["skip_if_stopped"] is False


def test_module_ids_are_unique_identifiers(documents):
    for name, (_, _, doc) in documents.items():
        ids = [m["id"] for m in modules(doc["value"]["modules"])]
        assert len(ids) == len(set(ids)), name
        assert all(re.fullmatch(_ID, i) for i in ids), name


def test_every_step_runs_in_one_module_that_says_what_it_runs(documents):
    for name, (plan, _, doc) in documents.items():
        runs = {}
        for module in modules(doc["value"]["modules"]):
            step = naming.step_of(module["id"])
            if step is not None and module["value"]["type"] == "rawscript":
                runs[step] = module["value"]["content"]
        assert sorted(runs) == sorted(t.name for t in plan.steps()), name
        for step, content in runs.items():
            assert content.rstrip().endswith("--step %s" % step), (name, step)


def test_javascript_is_only_our_fixed_shapes(documents):
    for name, (_, _, doc) in documents.items():
        for expr in expressions(doc):
            assert any(p.fullmatch(expr) for p in JS_SHAPES), (name, expr)


def test_compiling_is_deterministic():
    assert dump(compiled("branch_in_switch")[2]) == dump(compiled("branch_in_switch")[2])


TRICKY = '''
from metaflow import FlowSpec, Parameter, environment, step


class TrickyFlow(FlowSpec):
    """Docs `id` $(id) ${HOME} {{ x }} results.mf__init; rm -rf /"""
    text = Parameter("text", default="$(id) `id` ${HOME} '\\" ; exit 1", help="help $(id) `id`")

    @environment(vars={"E": "$(touch /tmp/pwned) ${X}"})
    @step
    def start(self):
        """Start `id` $(id)."""
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TrickyFlow()
'''


def test_user_text_is_never_script_or_javascript(tmp_path):
    path = tmp_path / "tricky.py"
    path.write_text(TRICKY)
    proc = subprocess.run([sys.executable, str(path), "--no-pylint", "windmill", "compile", "--tag", "$(id)"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    for module in modules(doc["value"]["modules"]):
        content = module["value"].get("content") or ""
        assert "$(id)" not in content and "`id`" not in content and "touch" not in content, module["id"]
        fetch = set(bootstrap_lines())  # fixed text: the code package's fetch (code_package.py)
        for line in content.splitlines():
            assert line.startswith("#") or line in fetch or re.fullmatch(
                r'[A-Z_]+="\$(?:\{\d+\}|\w+)"|export [A-Z_ ]+|exec "\$MFO_PYTHON" -m [\w.]+ --(?:init|finished|step \w+)', line), line
    assert all(any(p.fullmatch(e) for p in JS_SHAPES) for e in expressions(doc))
    # ... and the values are all there, as data
    assert doc["schema"]["properties"]["text"]["default"] == "$(id) `id` ${HOME} '\" ; exit 1"
    assert "$(id)" in json.dumps(doc["value"]["modules"][0]["value"]["input_transforms"]["MFO_FLOW"])


def test_a_bash_script_takes_at_most_19_arguments():
    with pytest.raises(ValueError):
        scripts.declare(list(scripts.TASK_ARGS) * 2)


def test_the_end_step_also_starts_the_flows_that_wait_for_it(documents):
    """No module of its own after the end step: the end step's module, once the step
    succeeded, starts the flows deployed with @trigger_on_finish on this one."""
    for name, (plan, _, doc) in documents.items():
        last = doc["value"]["modules"][-1]
        assert last["id"] == naming.step_id(plan.end_step), name
        assert last["value"]["content"].rstrip().endswith("runtime.entry --step %s" % plan.end_step), name
        assert last["value"]["input_transforms"]["MFO_FINISH"]["value"] == {
            "flow_name": plan.flow_name,
            "deployed_name": plan.project.flow_name if plan.project else plan.flow_name}, name
        others = [m for m in modules(doc["value"]["modules"][:-1]) if m["value"].get("type") == "rawscript"]
        assert not any("MFO_FINISH" in m["value"]["input_transforms"] for m in others), name


def test_triggered_flows_take_the_event_as_an_input_and_say_what_they_wait_for(documents):
    _, _, triggered = documents["triggered"]
    assert triggered["schema"]["properties"]["metaflow_event"]["type"] == "object"
    assert "metaflow_event" not in triggered["schema"]["required"]
    facts = compiler.deployment_facts(triggered)
    assert facts["events"] == ["data_ready"] and facts["internal_inputs"] == ["metaflow_event"]
    init = triggered["value"]["modules"][0]["value"]["input_transforms"]
    # The run's input is read from the flow job (an input of a bash module is a 128 KiB process argument).
    assert init["MFO_PARAMS"] == {"type": "static", "value": "windmill:flow-input"}
    assert init["MFO_INIT"]["value"]["event_input"] == "metaflow_event"  # the first step also starts the run
    facts = compiler.deployment_facts(documents["on_finish"][2])
    assert facts["after"] == ["LinearFlow"] and "events" not in facts
    assert "metaflow_event" not in documents["linear"][2]["schema"]["properties"]
    assert "after" not in compiler.deployment_facts(documents["linear"][2])


def test_schedule_is_six_field_croner_v2_with_every_default(documents):
    plan, target, _ = documents["scheduled_cron"]
    body = compiler.schedule_of(plan, target)
    assert len(body["schedule"].split()) == 6 and body["schedule"].startswith("0 ")
    assert body["cron_version"] == "v2" and body["is_flow"] and body["script_path"] == target.path
    assert body["path"] == compiler.schedule_path(target.path)


def test_retry_and_timeout_map_to_module_fields(documents):
    _, _, doc = documents["decorators"]
    by_id = {m["id"]: m for m in modules(doc["value"]["modules"])}
    assert by_id["flaky"]["retry"] == {"constant": {"attempts": 2, "seconds": 0}}
    timed = [m for m in by_id.values() if "timeout" in m]
    _, _, slow = documents["timeout_fail"]
    slow_mod = {m["id"]: m for m in modules(slow["value"]["modules"])}["slow"]
    assert slow_mod["timeout"]["value"] > 0
    assert all(m["timeout"]["type"] == "static" for m in timed)


@pytest.mark.parametrize("name,error", [
    ("f/ok/bad name", "f/<folder>/<name>"), ("g/a/b", "f/<folder>/<name>"), ("f/a", "f/<folder>/<name>")])
def test_bad_paths_are_refused(name, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        naming.check_path(name)


def test_flow_paths_are_injective_and_safe():
    names = ["Flow", "proj.user.x.Flow", "a b", "a_b", "ä" * 5, "x" * 300]
    paths = [naming.flow_path(n) for n in names]
    assert len(set(paths)) == len(paths)
    assert all(naming.check_path(p) for p in paths)
    with pytest.raises(ValueError):
        naming.flow_path("Flow", folder="bad folder")


def test_bad_step_names_and_reserved_ids():
    assert naming.step_id("failure") == "mf__step__failure" and naming.step_of("mf__step__failure") == "failure"
    assert naming.step_of("mf__init") is None and naming.step_of("start") == "start"
    from types import SimpleNamespace

    plan = SimpleNamespace(steps=lambda: [SimpleNamespace(name="start"), SimpleNamespace(name="bad-name")])
    with pytest.raises(PlanError, match="bad-name"):
        naming.check_steps(plan)


def test_a_flow_shipped_as_a_code_package_passes_the_validator_and_names_no_local_path():
    from dataclasses import replace

    from metaflow_extensions.orchestrators.plugins.code_package import CodePackage

    package = CodePackage(url="/shared/.metaflow/F/data/ab/ab12", sha="ab12", datastore="local",
                          metadata='{"version": 0, "archive_format": "tgz", "mfcontent_version": 1}', flow="foreach.py")
    plan = fr.load_plan("foreach", engine="windmill")
    options = replace(fr.deploy_options("foreach", engine="windmill"), code_package=package)
    doc = compile_flow(plan, options, WindmillTarget(workspace="mfo", path=compiler.flow_path(plan.flow_name)))
    assert windmill_validator([{"name": "pkg", "type": "flow", "doc": {k: v for k, v in doc.items() if k != "path"}}]) \
        == {"pkg": []}
    text = json.dumps(doc)
    assert fr.example("foreach") not in text and os.path.dirname(fr.example("foreach")) not in text
    tasks = [m for m in modules(doc["value"]["modules"]) if "task entry" in (m["value"].get("content") or "")]
    assert tasks and all("\n".join(bootstrap_lines()) in m["value"]["content"] for m in tasks)
    assert all(m["value"]["input_transforms"]["METAFLOW_CODE_SHA"] == {"type": "static", "value": "ab12"} for m in tasks)


@pytest.mark.parametrize("name", ["linear", "custom_names", "foreach", "single_step", "triggered"])
def test_the_first_step_also_starts_the_run(documents, name):
    """No module of its own for `metaflow init`: the first step's module runs it first, with
    the run's input read from the flow job, and takes the run's id from WM_FLOW_JOB_ID; every
    later module reads the run from that module's result."""
    plan, _, doc = documents[name]
    first = doc["value"]["modules"][0]
    start = naming.step_id(plan.root.blocks[0].head.name if hasattr(plan.root.blocks[0], "head")
                           else plan.root.blocks[0].name)
    transforms = first["value"]["input_transforms"]
    assert first["id"] == start and transforms["MFO_INIT"]["value"]["kind"] == "init"
    assert transforms["MFO_PARAMS"] == {"type": "static", "value": "windmill:flow-input"}
    assert "MFO_EXECUTION_ID" not in transforms and "MFO_ORIGIN_RUN" not in transforms
    assert 'MFO_EXECUTION_ID="$WM_FLOW_JOB_ID"' in first["value"]["content"]
    later = [m for m in modules(doc["value"]["modules"][1:]) if m["value"].get("type") == "rawscript"]
    assert bool(later) == (name != "single_step")
    assert not any("MFO_INIT" in m["value"]["input_transforms"] for m in later)
    runs = [m["value"]["input_transforms"].get("MFO_EXECUTION_ID") for m in later]
    assert all(r == {"type": "javascript", "expr": "results.%s.execution_id" % start} for r in runs if r)
    assert compiler.deployment_facts(doc)["flow_name"] == plan.flow_name


def test_deployments_made_with_an_init_module_are_still_recognised(documents):
    """Flows deployed before the init moved into the first step kept the deployment's facts
    in a module `mf__init` (MFO_STEP): a re-deploy must still see whose they are."""
    plan, _, doc = documents["linear"]
    facts = compiler.deployment_facts(doc)
    old = {"value": {"modules": [{"id": "mf__init", "value": {"input_transforms": {
        "MFO_STEP": {"type": "static", "value": {"kind": "init", "deployment": {
            k: v for k, v in facts.items() if k not in ("params", "internal_inputs")}}}}}}]}}
    assert compiler.deployment_facts(old)["flow_name"] == plan.flow_name
