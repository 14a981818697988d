"""Flow validation: the official OpenFlow schema (windmill-yaml-validator 1.775.2) plus
server-side rules, reported as clear 400 errors (windmill.md §2, §15)."""
from __future__ import annotations

import pytest

from metaflow_orchestrators.emulators.windmill.validation import ValidationError, validate_openflow
from wmhelpers import bash, echo, flow, js


def create(wm, body):
    return wm.http.post(wm.w("flows/create"), json=body)


def good(value=None, path="f/tests/valid"):
    return {"path": path, "summary": "ok", "value": value or flow(echo("a", "1"))}


def problems(body):
    with pytest.raises(ValidationError) as info:
        validate_openflow(body)
    return " | ".join(info.value.problems)


def test_well_formed_flow_is_accepted(wm):
    assert create(wm, good(path="f/tests/valid_ok")).status_code == 201


def test_missing_summary_is_rejected(wm):
    body = good()
    del body["summary"]
    response = create(wm, body)
    assert response.status_code == 400 and "summary" in response.text


def test_missing_path_on_create_is_rejected(wm):
    body = good()
    del body["path"]
    response = create(wm, body)
    assert response.status_code == 400 and "path" in response.text


def test_bad_path_is_rejected(wm):
    assert create(wm, good(path="nofolder")).status_code == 400


def test_missing_module_id():
    assert "'id' is a required property" in problems({"summary": "", "value": {"modules": [
        {"value": {"type": "identity"}}]}})


def test_unknown_module_type():
    text = problems({"summary": "", "value": {"modules": [{"id": "a", "value": {"type": "nope"}}]}})
    assert "unknown module type 'nope'" in text


def test_rawscript_requires_input_transforms():
    module = {"id": "a", "value": {"type": "rawscript", "language": "bash", "content": "echo"}}
    assert "input_transforms" in problems({"summary": "", "value": {"modules": [module]}})


def test_bad_language_is_rejected():
    module = bash("a", "echo")
    module["value"]["language"] = "cobol"
    assert "cobol" in problems({"summary": "", "value": {"modules": [module]}})


def test_valid_language_not_executed_here_is_rejected_with_reason():
    module = bash("a", "export async function main() {}")
    module["value"]["language"] = "bun"
    assert "only executes bash and python3" in problems({"summary": "", "value": {"modules": [module]}})


def test_bad_transform_type():
    module = bash("a", 'A="$1"', A={"type": "magic", "value": 1})
    assert "/value/modules/0/value/input_transforms/A" in problems({"summary": "", "value": {"modules": [module]}})


def test_forloop_requires_iterator_and_skip_failures():
    loop = {"id": "l", "value": {"type": "forloopflow", "modules": []}}
    text = problems({"summary": "", "value": {"modules": [loop]}})
    assert "iterator" in text and "skip_failures" in text


def test_branchone_requires_default_and_expr():
    module = {"id": "b", "value": {"type": "branchone", "branches": [{"modules": []}]}}
    text = problems({"summary": "", "value": {"modules": [module]}})
    assert "default" in text and "expr" in text


def test_duplicate_module_ids_anywhere_are_rejected():
    loop = {"id": "l", "value": {"type": "forloopflow", "iterator": js("[1]"), "skip_failures": False,
                                 "modules": [echo("a", "1")]}}
    assert "duplicate module id 'a'" in problems({"summary": "", "value": flow(echo("a", "1"), loop)})


def test_failure_module_must_have_id_failure():
    value = flow(echo("a", "1"), failure_module=echo("oops", "1"))
    assert "must be 'failure'" in problems({"summary": "", "value": value})


def test_reserved_ids_cannot_be_regular_modules():
    assert "reserved" in problems({"summary": "", "value": flow(echo("failure", "1"))})


def test_suspend_is_rejected():
    module = dict(echo("a", "1"), suspend={"required_events": 1})
    assert "suspend" in problems({"summary": "", "value": flow(module)})


def test_bare_integer_timeout_and_parallelism_are_accepted():
    loop = {"id": "l", "value": {"type": "forloopflow", "iterator": js("[1]"), "skip_failures": False,
                                 "parallel": True, "parallelism": 2, "modules": [dict(echo("a", "1"), timeout=30)]}}
    validate_openflow({"summary": "", "value": flow(loop)})


def test_unknown_keys_are_ignored_like_the_server():
    validate_openflow({"summary": "", "value": flow(dict(echo("a", "1"), label="typo"))})


def test_errors_list_every_problem(wm):
    body = {"path": "f/tests/many", "summary": "", "value": flow(echo("a", "1"), echo("a", "2"), echo("failure", "3"))}
    response = create(wm, body)
    assert response.status_code == 400
    assert "duplicate module id 'a'" in response.text and "reserved" in response.text
