"""Every decorator and flow-level fact resolved into plain plan fields."""
import json
import subprocess
import sys
import textwrap

import flowrunner as fr
from metaflow_extensions.orchestrators.plugins.plan import ParamType
from metaflow_extensions.orchestrators.plugins.plan.serialize import from_dict


def test_parameters_have_declared_types_defaults_and_cli_names():
    params = {p.name: p for p in fr.load_plan("linear").parameters}
    assert {n: p.type for n, p in params.items()} == {
        "alpha": ParamType.INT, "ratio": ParamType.FLOAT, "flag": ParamType.BOOL, "greeting": ParamType.STRING,
        "config_json": ParamType.JSON, "max-items": ParamType.INT, "label": ParamType.STRING}
    assert params["max-items"].python_name == "max_items"
    assert params["max-items"].env_var == "METAFLOW_INIT_MAX_ITEMS"
    assert params["config_json"].default == {"k": (1, 2)} or params["config_json"].default == {"k": [1, 2]}
    assert params["ratio"].default == 0.5 and params["flag"].default is False
    assert params["label"].help and not params["alpha"].required


def test_retry_catch_timeout_environment_resources():
    plan = fr.load_plan("decorators")
    flaky, risky, checked = plan.step("flaky"), plan.step("risky"), plan.step("checked")
    assert (flaky.retry.user_code_retries, flaky.retry.error_retries, flaky.retry.total_attempts) == (2, 0, 3)
    assert risky.catch and (risky.retry.user_code_retries, risky.retry.error_retries) == (0, 3)
    assert checked.timeout_seconds == 30 and plan.step("start").timeout_seconds is None
    assert ("GREETING", "hello") in checked.environment
    assert checked.resources.cpu == 1 and checked.resources.memory_mb == 512
    assert all(s.decospecs == () for s in plan.steps()), "static decorators must not be forwarded"


def test_deploy_time_with_is_forwarded_per_step():
    out = fr.flow_command("linear", "--with", "retry:times=1", "kestra", "plan").stdout
    plan = from_dict(json.loads(out))
    assert all(s.decospecs == ("retry:times=1,minutes_between_retries=2",) for s in plan.steps())
    assert all(s.retry.user_code_retries == 1 for s in plan.steps())


def test_schedules_become_five_field_cron_with_timezone():
    daily = fr.load_plan("scheduled").schedule
    assert daily.cron == "0 0 * * *" and daily.timezone is None
    cron = fr.load_plan("scheduled_cron").schedule
    assert cron.cron == "0 6 * * MON-FRI" and cron.timezone == "Europe/Paris"


def test_event_and_flow_triggers():
    events = fr.load_plan("triggered").event_triggers
    assert [e.name for e in events] == ["data_ready"]
    finish = fr.load_plan("on_finish").flow_triggers
    assert [(t.flow, t.deployed_name) for t in finish] == [("LinearFlow", "LinearFlow")]


def test_project_branch_and_production_naming():
    user = fr.load_plan("project_flow").project
    assert user.name == "demo_project" and user.branch.startswith("user.")
    branch = from_dict(json.loads(fr.flow_command("project_flow", "--branch", "feat1", "kestra", "plan").stdout)).project
    assert (branch.branch, branch.flow_name, branch.raw_branch) == ("test.feat1", "demo_project.test.feat1.ProjectFlowFlow", "feat1")
    prod = from_dict(json.loads(fr.flow_command("project_flow", "--production", "kestra", "plan").stdout)).project
    assert prod.production and prod.branch == "prod"


def test_configs_and_config_expressions_are_resolved():
    plan = fr.load_plan("config_flow")
    assert [name for name, _ in plan.configs] == ["cfg"]
    assert json.loads(plan.configs[0][1])[0]["b"] == "42"
    assert ("CFG_B", "42") in plan.step("use_env").environment


def test_include_file_parameter_is_refused_with_a_clear_error(tmp_path):
    flow = tmp_path / "inc.py"
    flow.write_text(textwrap.dedent('''
        from metaflow import FlowSpec, IncludeFile, step
        class IncFlow(FlowSpec):
            data = IncludeFile("data", default="inc.py")
            @step
            def start(self):
                self.next(self.end)
            @step
            def end(self):
                pass
        if __name__ == "__main__":
            IncFlow()
    '''))
    proc = subprocess.run([sys.executable, str(flow), "kestra", "plan"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "IncludeFile parameter data is not supported" in proc.stderr.replace("*", "")
