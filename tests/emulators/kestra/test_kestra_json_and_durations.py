"""Conformance cases found by running our flows on the real engine (realservers/kestra): Kestra's
JSON drops null map entries, and 2.0 wants every retry duration positive. Hand-written Kestra YAML,
expectations from the cited source; they run on the emulator and, unchanged, on a real server."""
from __future__ import annotations

from kestra_helpers import PROCESS, flow, messages


def test_json_drops_null_map_entries_but_keeps_list_items(both):
    # core/io/kestra/core/serializers/JacksonMapper.java@v1.3.34/@v2.0.0: setDefaultPropertyInclusion(NON_NULL)
    # covers map content: a stored flow's variables and every map written as JSON (toJson, or a map
    # printed by an expression) lose their null entries; list items stay.
    both.client.deploy_ok(flow("nulls", """
inputs:
  - {id: j, type: JSON, required: false}
variables:
  v: {a: null, b: 1, c: [null, 2]}
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: %s
    env:
      J: "{{ inputs.j | toJson }}"
      P: "{{ inputs.j }}"
      V: "{{ vars.v | toJson }}"
    commands:
      - 'echo "J=$J"; echo "P=$P"; echo "V=$V"'
""" % PROCESS))
    r = both.client.trigger("conformance", "nulls", {"j": '{"x": null, "y": [null, 1]}'})
    assert r.status_code == 200, r.text
    exe = both.client.wait(r.json()["id"])
    assert exe["state"]["current"] == "SUCCESS"
    lines = [m for m in messages(both.client, exe["id"], "t") if m[:2] in ("J=", "P=", "V=")]
    assert sorted(lines) == ['J={"y":[null,1]}', 'P={"y":[null,1]}', 'V={"b":1,"c":[null,2]}']


def test_retry_interval_must_be_positive_on_2x(both):
    # tasks/retrys/Constant.java@v2.0.0: @DurationMin(millis = 1, message = "must be a positive duration");
    # Constant.java@v1.3.34 has no lower bound.
    source = flow("retry0", """
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
    retry: {type: constant, interval: PT0S, maxAttempts: 2}
""")
    r = both.client.deploy(source)
    if both.version >= 2:
        assert r.status_code == 422 and "must be a positive duration" in r.text
    else:
        assert r.status_code == 200, r.text
    ok = both.client.deploy(source.replace("PT0S", "PT0.001S"))
    assert ok.status_code == 200 or "already exists" in ok.text, ok.text
