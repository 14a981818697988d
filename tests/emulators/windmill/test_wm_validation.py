"""What `POST /flows/create` refuses: the server's serde model, answered 422 by axum's JSON
rejection (windmill-types/src/flows.rs@v1.788.0 `NewFlow`, `validate_flow_value`,
`FlowModule::traverse_modules`), not the OpenFlow JSON schema (that is `wmill lint`'s). The
emulator additionally refuses, with 400 and the reason, valid Windmill it does not execute."""
from __future__ import annotations

from wmhelpers import bash, echo, flow, js


def create(wm, body):
    return wm.http.post(wm.w("flows/create"), json=body)


def good(wm, value=None, name="valid"):
    return {"path": wm.unique_path(name), "summary": "ok", "value": value or flow(echo("a", "1"))}


def test_well_formed_flow_is_accepted(wm):
    assert create(wm, good(wm)).status_code == 201


def test_missing_summary_is_422(wm):
    body = good(wm)
    del body["summary"]
    response = create(wm, body)
    assert response.status_code == 422 and "missing field `summary`" in response.text


def test_missing_path_on_create_is_422(wm):
    body = good(wm)
    del body["path"]
    response = create(wm, body)
    assert response.status_code == 422 and "missing field `path`" in response.text


def test_stop_after_if_without_skip_if_stopped_is_422_at_any_depth(wm):
    # StopAfterIf.skip_if_stopped has no serde default; nested modules are parsed too.
    inner = dict(echo("a", "1"), stop_after_if={"expr": "true"})
    loop = {"id": "l", "value": {"type": "forloopflow", "iterator": js("[1]"), "skip_failures": False,
                                 "modules": [inner]}}
    for value in (flow(inner), flow(loop)):
        response = create(wm, good(wm, value))
        assert response.status_code == 422 and "missing field `skip_if_stopped`" in response.text, response.text
    ok = dict(echo("a", "1"), stop_after_if={"expr": "true", "skip_if_stopped": False})
    assert create(wm, good(wm, flow(ok))).status_code == 201


def test_loop_without_iterator_is_422(wm):
    loop = {"id": "l", "value": {"type": "forloopflow", "modules": []}}
    response = create(wm, good(wm, flow(loop)))
    assert response.status_code == 422 and "Module 'l': missing field `iterator`" in response.text


def test_branchone_without_default_is_422(wm):
    module = {"id": "b", "value": {"type": "branchone", "branches": [{"modules": []}]}}
    response = create(wm, good(wm, flow(module)))
    assert response.status_code == 422 and "missing field `default`" in response.text


def test_exponential_retry_with_zero_base_is_422(wm):
    module = dict(echo("a", "1"), retry={"exponential": {"attempts": 2, "multiplier": 1, "seconds": 0}})
    response = create(wm, good(wm, flow(module)))
    assert response.status_code == 422 and "must be greater than 0" in response.text


def test_what_serde_defaults_is_accepted(wm):
    """Module `id` defaults to "default", a branch `expr` to "", forloop `skip_failures` and
    `input_transforms` are optional, timeout/parallelism may be bare integers."""
    loop = {"id": "l", "value": {"type": "forloopflow", "iterator": js("[1]"), "parallel": True, "parallelism": 2,
                                 "modules": [dict(echo("a", "1"), timeout=30)]}}
    anonymous = {"value": {"type": "identity"}}
    branch = {"id": "b", "value": {"type": "branchone", "branches": [{"modules": []}], "default": []}}
    raw = {"id": "r", "value": {"type": "rawscript", "language": "bash", "content": "echo hi"}}
    assert create(wm, good(wm, flow(loop, anonymous, branch, raw))).status_code == 201


def test_unknown_transform_type_is_422(wm):
    module = bash("a", 'A="$1"', A={"type": "magic", "value": 1})
    response = create(wm, good(wm, flow(module)))
    assert response.status_code == 422 and "unknown variant `magic`" in response.text


def test_valid_language_not_executed_here_is_400_with_reason(wm, emulator):
    module = bash("a", "export async function main() {}")
    module["value"]["language"] = "bun"
    response = create(wm, good(wm, flow(module)))
    assert response.status_code == 400 and "only executes bash and python3" in response.text


def test_suspend_is_400_with_reason(wm, emulator):
    module = dict(echo("a", "1"), suspend={"required_events": 1})
    response = create(wm, good(wm, flow(module)))
    assert response.status_code == 400 and "suspend" in response.text
