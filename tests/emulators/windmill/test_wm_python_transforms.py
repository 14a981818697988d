"""python3 rawscripts (`def main(**args)`) and input transforms (static, JavaScript on V8).

Sources: windmill.md §4 (expression scope, `transform_input`, windmill-jseval) and §5.4.
"""
from __future__ import annotations

from wmhelpers import bash, echo, emit_json, flow, js, python, static


def test_python_main_return_value_is_the_result(wm):
    step = python("p", "def main(a, b=2):\n    return {'sum': a + b, 'list': [a, b]}", a=static(40))
    job = wm.run_flow(flow(step))
    assert job["success"] is True and job["result"] == {"sum": 42, "list": [40, 2]}


def test_python_exception_gives_an_error_object(wm):
    step = python("p", "def main():\n    raise ValueError('bad value')\n")
    job = wm.run_flow(flow(step))
    assert job["success"] is False
    error = job["result"]["error"]
    assert error["name"] == "ValueError" and error["message"] == "bad value" and error["step_id"] == "p"
    assert "in main" in error["stack"] and "wrapper" not in error["stack"]  # user frames only


def test_static_transform_passes_any_json(wm):
    step = python("p", "def main(v):\n    return v", v=static({"a": [1, None, True]}))
    assert wm.run_flow(flow(step))["result"] == {"a": [1, None, True]}


def test_javascript_sees_flow_input_results_and_previous_result(wm):
    first = python("first", "def main():\n    return {'n': 5}")
    second = python("second", "def main(a, b, c):\n    return [a, b, c]",
                    a=js("flow_input.x * 2"), b=js("results.first.n + 1"), c=js("previous_result.n"))
    assert wm.run_flow(flow(first, second), {"x": 4})["result"] == [8, 6, 5]


def test_first_module_previous_result_is_the_flow_args(wm):
    step = python("p", "def main(v):\n    return v", v=js("previous_result"))
    assert wm.run_flow(flow(step), {"k": 1})["result"] == {"k": 1}


def test_real_javascript_semantics(wm):
    exprs = {"a": js("[3, 1, 2].sort().map(x => x * 10)"), "b": js("`t-${flow_input.n}`"),
             "c": js("Array.from({length: 3}, (_, i) => i)"), "d": js("typeof undefined"),
             "e": js("({...flow_input, extra: true})")}
    step = python("p", "def main(a, b, c, d, e):\n    return [a, b, c, d, e]", **exprs)
    assert wm.run_flow(flow(step), {"n": 7})["result"] == [[10, 20, 30], "t-7", [0, 1, 2], "undefined",
                                                           {"n": 7, "extra": True}]


def test_undefined_becomes_null(wm):
    step = python("p", "def main(v):\n    return v is None", v=js("flow_input.missing"))
    assert wm.run_flow(flow(step))["result"] is True


def test_javascript_error_fails_the_module(wm):
    job = wm.run_flow(flow(echo("a", "(flow_input.nope).deep")))
    assert job["success"] is False
    assert "TypeError" in job["result"]["error"]["message"]


def test_javascript_syntax_error_fails_the_module(wm):
    job = wm.run_flow(flow(echo("a", "1 +")))
    assert job["success"] is False and "SyntaxError" in job["result"]["error"]["message"]


def test_flow_env_is_in_scope(wm):
    value = flow(echo("a", "flow_env.REGION"), flow_env={"REGION": "eu"})
    assert wm.run_flow(value)["result"] == "eu"


def test_static_var_reference_resolves_a_variable(wm):
    response = wm.http.post(wm.w("variables/create"), json={"path": "f/tests/greeting", "value": "hi",
                                                             "is_secret": False, "description": ""})
    assert response.status_code == 201
    step = bash("a", 'G="$1"\necho "$G"', G=static("$var:f/tests/greeting"))
    assert wm.run_flow(flow(step))["result"] == "hi"


def test_flow_result_is_the_last_module_result(wm):
    job = wm.run_flow(flow(emit_json("a", "[1]"), emit_json("b", "{z: 1}")))
    assert job["result"] == {"z": 1}
