"""The launcher as a pure function: argv and environment for every kind of position."""
import json

import pytest

import flowrunner as fr
from metaflow_extensions.orchestrators.plugins.runtime import ids
from metaflow_extensions.orchestrators.plugins.runtime.launcher import (
    LaunchError, RuntimeValues, build_command, decode_spec, input_paths, param_text)
from metaflow_extensions.orchestrators.plugins.runtime.resume import ResumeError, ResumeRequest
from metaflow_extensions.orchestrators.plugins.runtime.spec import encode, init_spec, step_spec


def _opt(argv, name):
    return argv[argv.index(name) + 1]


def _step(name, step, **deploy):
    plan = fr.load_plan(name)
    return plan, step_spec(plan, plan.step(step), fr.deploy_options(name, **deploy))


def test_step_command_carries_retry_counts_tags_namespace_and_internal_decorator():
    plan, spec = _step("decorators", "flaky", tags=("team:a", "x"), namespace="user:bob", engine="kestra")
    argv = build_command(spec, RuntimeValues("exec1", attempt=2)).argv
    sub = argv.index("step")
    assert argv[sub + 1] == "flaky"
    assert _opt(argv, "--run-id") == "kestra-exec1" and _opt(argv, "--task-id") == "t"
    assert _opt(argv, "--retry-count") == "2" and _opt(argv, "--max-user-code-retries") == "2"
    assert _opt(argv, "--input-paths") == "kestra-exec1/start/t"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--tag"] == ["team:a", "x"]
    assert _opt(argv, "--namespace") == "user:bob"
    top = argv[:sub]
    assert "--with=orchestrators_internal:reporter=kestra" in top
    assert "--no-pylint" in top and "--metadata=local" in top and "--datastore=local" in top
    assert argv[1] == fr.example("decorators")


def test_catch_error_retries_are_not_user_code_retries():
    _, spec = _step("decorators", "risky")
    argv = build_command(spec, RuntimeValues("e", attempt=3)).argv
    assert _opt(argv, "--max-user-code-retries") == "0" and _opt(argv, "--retry-count") == "3"


def test_environment_owner_and_step_environment():
    _, spec = _step("decorators", "checked", owner="alice", production_token="tok-1")
    env = build_command(spec, RuntimeValues("e")).env
    assert env["GREETING"] == "hello" and env["METAFLOW_OWNER"] == "alice"
    assert env["METAFLOW_PRODUCTION_TOKEN"] == "tok-1"


def test_project_branch_and_production_are_top_level_options():
    plan = fr.load_plan("project_flow")
    spec = step_spec(plan, plan.step("end"), fr.deploy_options("project_flow", branch="feat1", production=True))
    argv = build_command(spec, RuntimeValues("e")).argv
    top = argv[:argv.index("step")]
    assert "--branch=feat1" in top and "--production" in top


def test_init_command_passes_typed_trigger_values_and_omits_unset_ones():
    plan = fr.load_plan("linear")
    spec = init_spec(plan, fr.deploy_options("linear"))
    params = {"alpha": 3, "flag": True, "config_json": {"a": [1]}, "max-items": 9, "greeting": None}
    argv = build_command(spec, RuntimeValues("e", params=params)).argv
    assert argv[argv.index("init") + 1:argv.index("init") + 5] == ["--run-id", "local-e", "--task-id", ids.PARAMS_TASK_ID]
    assert _opt(argv, "--alpha") == "3" and _opt(argv, "--flag") == "true"
    assert json.loads(_opt(argv, "--config_json")) == {"a": [1]} and _opt(argv, "--max-items") == "9"
    assert "--greeting" not in argv
    with pytest.raises(LaunchError):
        build_command(spec, RuntimeValues("e", params={"nope": 1}))


def test_param_text_forms():
    assert param_text('{"a": 1}', "JSON") == '{"a": 1}'
    assert param_text({"a": 1}, "JSON") == '{"a": 1}'
    assert param_text(False, "BOOL") == "false" and param_text(2.5, "FLOAT") == "2.5"


def test_configs_travel_in_config_file_mode():
    plan = fr.load_plan("config_flow")
    command = build_command(step_spec(plan, plan.step("use_env"), fr.deploy_options("config_flow")), RuntimeValues("e"))
    assert json.loads(command.env["METAFLOW_FLOW_CONFIG_VALUE"]) == {"cfg": "kv.cfg"}
    path = _opt(command.argv, "--local-config-file")
    assert json.loads(command.files[path])["user_configs"]["cfg"][0]["b"] == "42"


def test_foreach_positions():
    plan = fr.load_plan("nested_foreach")
    spec = step_spec(plan, plan.step("level3"), fr.deploy_options("nested_foreach"))
    paths, split = input_paths(spec, RuntimeValues("e", index_path=(1, 0, 1)))
    assert paths == ["local-e/level2/t-1-0"] and split == 1
    join3 = step_spec(plan, plan.step("join3"), fr.deploy_options("nested_foreach"))
    argv = build_command(join3, RuntimeValues("e", index_path=(1, 0), width=2)).argv
    # Metaflow's prefix form cuts at the longest common prefix, characters not path parts.
    assert _opt(argv, "--input-paths") == "local-e/level3/t-1-0-:0,1" and "--split-index" not in argv
    with pytest.raises(LaunchError):
        input_paths(join3, RuntimeValues("e", index_path=(1, 0)))


def test_switch_merges_read_the_branch_that_ran():
    plan = fr.load_plan("switch")
    merge = step_spec(plan, plan.step("merge"), fr.deploy_options("switch"))
    assert input_paths(merge, RuntimeValues("e", branches={"start": "l1"}))[0] == ["local-e/l3/t"]
    assert input_paths(merge, RuntimeValues("e", branches={"start": "s1"}))[0] == ["local-e/s1/t"]
    with pytest.raises(LaunchError):
        input_paths(merge, RuntimeValues("e"))
    with pytest.raises(LaunchError):
        input_paths(merge, RuntimeValues("e", branches={"start": "nowhere"}))


def test_switch_inside_foreach_reads_each_iterations_branch():
    plan = fr.load_plan("switch_end_of_foreach")
    join = step_spec(plan, plan.step("join"), fr.deploy_options("switch_end_of_foreach"))
    rt = RuntimeValues("e", width=3, branches={"body@0": "small", "body@1": "big", "body@2": "small"})
    assert input_paths(join, rt)[0] == ["local-e/small/t-0", "local-e/big/t-1", "local-e/small/t-2"]


def test_recursive_switch_iterations():
    plan = fr.load_plan("recursive_switch")
    loop = step_spec(plan, plan.step("loop"), fr.deploy_options("recursive_switch"))
    assert input_paths(loop, RuntimeValues("e", iteration=0))[0] == ["local-e/start/t"]
    assert input_paths(loop, RuntimeValues("e", iteration=2))[0] == ["local-e/loop/t-r1"]
    assert _opt(build_command(loop, RuntimeValues("e", iteration=2)).argv, "--task-id") == "t-r2"
    end = step_spec(plan, plan.step("end"), fr.deploy_options("recursive_switch"))
    assert input_paths(end, RuntimeValues("e", branches={"loop": "end"}, loops={"loop": 3}))[0] == ["local-e/loop/t-r3"]


def test_a_restart_past_the_retry_budget_runs_user_code():
    """Engines count attempts across a restart (Kestra: errata 7). An attempt past the
    step's own (@retry + @catch + 1) is the last user-code attempt, so @catch catches a
    failure there instead of running its fallback at once; Metaflow keeps 6 at most."""
    plan, spec = _step("decorators", "risky")  # @catch: 0 user retries, attempts = 1 + fallbacks
    attempts = spec["attempts"]
    assert _opt(build_command(spec, RuntimeValues("e", attempt=0)).argv, "--max-user-code-retries") == "0"
    assert _opt(build_command(spec, RuntimeValues("e", attempt=1)).argv, "--max-user-code-retries") == "0"
    assert attempts >= 2
    if attempts < 6:
        argv = build_command(spec, RuntimeValues("e", attempt=attempts)).argv
        assert _opt(argv, "--max-user-code-retries") == _opt(argv, "--retry-count") == str(attempts)
    with pytest.raises(LaunchError, match="6 attempts"):
        build_command(spec, RuntimeValues("e", attempt=6))


def test_spec_survives_encoding():
    plan, spec = _step("branch", "join")
    assert decode_spec(encode(spec)) == json.loads(json.dumps(spec))


# --- resume (runtime/resume.py) ----------------------------------------------------------


def test_a_resumed_runs_init_clones_with_metaflows_resume_and_no_configs():
    plan = fr.load_plan("config_flow")
    spec = init_spec(plan, fr.deploy_options("config_flow", tags=("t1",), engine="kestra"))
    request = ResumeRequest("kestra-origin1", step="start")
    command = build_command(spec, RuntimeValues("new1", resume=request, params={"x": 1}))
    argv = command.argv
    sub = argv.index("resume")
    assert argv[sub:] == ["resume", "--origin-run-id", "kestra-origin1", "--run-id", "kestra-new1", "--clone-only",
                          "--reentrant", "--resume-identifier", "kestra-new1", "--tag", "t1", "start"]
    # Configs (and parameters) come from the origin run, as Metaflow's resume takes them.
    assert "METAFLOW_FLOW_CONFIG_VALUE" not in command.env and not command.files
    assert not any(a.startswith("--local-config-file") or a.startswith("--config") for a in argv)


def test_new_parameter_values_make_a_resumed_runs_init_a_plain_init():
    plan = fr.load_plan("linear")
    spec = init_spec(plan, fr.deploy_options("linear"))
    request = ResumeRequest("windmill-abc", new_parameters=True)
    name = plan.parameters[0].name
    argv = build_command(spec, RuntimeValues("e", resume=request, params={name: "v"})).argv
    assert "init" in argv and "resume" not in argv and _opt(argv, "--%s" % name) == "v"


def test_steps_of_a_resumed_run_name_its_origin():
    _, spec = _step("linear", "end")
    argv = build_command(spec, RuntimeValues("e", origin_run="kestra-o1")).argv
    assert _opt(argv, "--clone-run-id") == "kestra-o1"
    assert "--clone-run-id" not in build_command(spec, RuntimeValues("e")).argv


@pytest.mark.parametrize("request_", [ResumeRequest("kestra-a1"), ResumeRequest("windmill-x.y_z", "mid", True)])
def test_resume_requests_round_trip_through_labels(request_):
    labels = request_.labels()
    assert all(isinstance(v, str) and ":" not in v for v in labels.values())  # Kestra's label=key:value
    assert ResumeRequest.from_labels(dict(labels, **{"metaflow-flow": "F"})) == request_
    assert ResumeRequest.from_labels({"metaflow-flow": "F"}) is None


@pytest.mark.parametrize("bad", ["12", "local-1", "kestra-", "kestra-a/b", "kestra-a b", "argo-x"])
def test_only_runs_of_our_engines_can_be_resumed(bad):
    with pytest.raises(ResumeError):
        ResumeRequest(bad)
    with pytest.raises(ResumeError):
        ResumeRequest("kestra-ok", step="not a step")


def test_in_place_refusals_follow_kestras_restart():
    from metaflow_extensions.orchestrators.plugins.kestra.backend import in_place_refusal

    assert in_place_refusal("FAILED", 1) is None and in_place_refusal("KILLED", 2) is None
    assert "killed" in in_place_refusal("KILLED", 1)
    assert "no failed step" in in_place_refusal("SUCCESS", 2)
    assert "ended" in in_place_refusal("RUNNING", 2)


def test_given_values_are_compared_with_the_origins_as_values():
    from metaflow_extensions.orchestrators.plugins.resume_cli import same_value

    assert same_value(2, 2) and same_value(2.0, 2) and same_value({"a": [1]}, '{"a": [1]}')
    assert not same_value(2, 3) and not same_value({"a": 1}, "not json") and not same_value("x", "y")
