"""Pebble subset: strict lookups, coalescing, indexing, functions/filters, raw blocks
(kestra.md §5; Kestra `runners/pebble/Extension.java`)."""
from __future__ import annotations

import pytest

from metaflow_orchestrators.emulators.kestra.pebble import PebbleError, Renderer, UndefinedError

CTX = {
    "outputs": {"a": {"vars": {"items": [1, 2], "name": "x"}, "exitCode": 0},
                "body": {"0": {"vars": {"p": "zero"}}, "1": {"vars": {"p": "one"}}},
                "nested": {"o1": {"i1": {"vars": {"k": "deep"}}}},
                "my-task": {"vars": {"v": 7}}},
    "inputs": {"n": 3, "f": 1.5, "flag": True, "obj": {"k": [1, {"z": None}]}, "text": "{{ inputs.n }}"},
    "taskrun": {"value": "1", "attemptsCount": 0},
    "vars": {"tmpl": "n={{ inputs.n }}"},
}


@pytest.fixture(params=[1, 2])
def r(request):
    return Renderer(request.param)


def render(r, template, ctx=CTX):
    return r.render(template, ctx)


def test_lookup_and_json_rendering(r):
    assert render(r, "{{ outputs.a.vars.name }}") == "x"
    assert render(r, "{{ outputs.a.vars.items }}") == "[1,2]"  # lists render as JSON
    # A map printed as JSON loses its null entries, at any depth (JacksonMapper NON_NULL covers map
    # content, serializers/JacksonMapper.java@v1.3.34/@v2.0.0; seen on the real 1.3.31 and 2.0.0 engines).
    assert render(r, "{{ inputs.obj }}") == '{"k":[1,{}]}'
    assert render(r, "{{ inputs.flag }} {{ inputs.f }} {{ inputs.n }}") == "true 1.5 3"
    assert render(r, "plain text") == "plain text"


def test_strict_undefined_variable_and_attribute(r):
    with pytest.raises(UndefinedError, match="nope"):
        render(r, "{{ nope }}")
    with pytest.raises(UndefinedError, match="missing"):
        render(r, "{{ outputs.a.vars.missing }}")
    with pytest.raises(UndefinedError):
        render(r, "{{ outputs.a.vars.items[5] }}")


def test_null_coalescing(r):
    assert render(r, "{{ outputs.b.vars.p ?? outputs.a.vars.name }}") == "x"
    assert render(r, "{{ inputs.obj.k[1].z ?? 'dflt' }}") == "dflt"  # ?? also on null
    assert render(r, "{{ inputs.obj.k[1].z ??? 'dflt' }}") == ""  # ??? only on undefined
    assert render(r, "{{ nothing ??? 'u' }}") == "u"


def test_indexing_by_value_and_subscript(r):
    assert render(r, "{{ outputs.body[taskrun.value].vars.p }}") == "one"
    assert render(r, "{{ outputs['my-task'].vars.v }}") == "7"
    assert render(r, "{{ outputs.nested['o1']['i1'].vars.k }}") == "deep"
    assert render(r, "{{ outputs.a.vars.items[0] }}") == "1"


def test_concatenation_and_comparisons(r):
    assert render(r, "{{ 'a' ~ inputs.n ~ '-' ~ taskrun.value }}") == "a3-1"
    assert render(r, "{{ inputs.n > 2 }}|{{ inputs.n == 3 }}|{{ inputs.n != 3 }}|{{ inputs.f <= 1 }}") == \
        "true|true|false|false"
    assert render(r, "{{ inputs.n == 3 and not inputs.flag }}") == "false"
    assert render(r, "{{ inputs.n + 1 }}") == "4"
    assert render(r, "{{ 7 / 2 }} {{ 7.0 / 2 }} {{ 7 % 4 }}") == "3 3.5 3"  # Java long division
    assert render(r, "{{ inputs.flag ? 'yes' : 'no' }}") == "yes"


def test_literals_tests_and_filters(r):
    assert render(r, "{{ [1, 'a', inputs.n] }}|{{ {'k': inputs.n}.k }}|{{ -inputs.n }}") == '[1,"a",3]|3|-3'
    assert render(r, "{{ outputs.a.vars.items contains 2 }} {{ 'abc' contains 'z' }}") == "true false"
    assert render(r, "{{ nope is defined }} {{ inputs.n is defined }} {{ inputs.obj.k[1].z is null }}") == \
        "false true true"
    assert render(r, "{{ inputs.n is not null }} {{ [] is empty }} {{ 'x' is empty }}") == "true true false"
    assert render(r, "{{ outputs.a.vars | keys }}|{{ outputs.a.vars.items | length }}|{{ outputs.a.vars.items | join('-') }}") == \
        '["items","name"]|2|1-2'
    assert render(r, "{{ ' Ab ' | trim | upper }}{{ 'Ab' | lower }}{{ outputs.a.vars.items | first }}{{ outputs.a.vars.items | last }}") == \
        "ABab12"
    assert render(r, "{{ 'metaflow' | startsWith('meta') }} {{ 'metaflow' | endsWith('x') }}") == "true false"
    with pytest.raises(PebbleError):
        render(r, "{{ inputs.n is odd }}")


def test_tojson_fromjson(r):
    assert render(r, "{{ outputs.a.vars | toJson }}") == '{"items":[1,2],"name":"x"}'
    assert render(r, "{{ fromJson('[4,5]')[1] }}") == "5"
    assert render(r, "{{ 'x' | toJson }}") == '"x"'


def test_json_only_in_1x():
    assert Renderer(1).render("{{ json('{\"a\":1}').a }}", CTX) == "1"
    assert Renderer(1).render("{{ inputs.obj | json }}", CTX) == '{"k":[1,{}]}'
    with pytest.raises(PebbleError):
        Renderer(2).render("{{ json('{\"a\":1}').a }}", CTX)
    with pytest.raises(PebbleError):
        Renderer(2).render("{{ inputs.obj | json }}", CTX)


def test_current_each_output(r):
    # CurrentEachOutputFunction.java@v1.3.34; not registered in 2.0 (Extension.java@v2.0.0 getFunctions).
    ctx = dict(CTX, taskrun={"value": "i1"}, parents=[{"taskrun": {"value": "o1"}}])
    if r.version >= 2:
        with pytest.raises(PebbleError):
            r.render("{{ currentEachOutput(outputs.nested).vars.k }}", ctx)
        return
    assert r.render("{{ currentEachOutput(outputs.nested).vars.k }}", ctx) == "deep"


def test_values_are_not_rerendered_unless_render(r):
    # A value containing template text is data (kestra.md §2.1).
    assert render(r, "{{ inputs.text }}") == "{{ inputs.n }}"
    assert render(r, "{{ vars.tmpl }}") == "n={{ inputs.n }}"
    assert render(r, "{{ render(vars.tmpl) }}") == "n=3"


def test_raw_block_and_comments(r):
    assert render(r, "{% raw %}{{ not rendered }}{% endraw %}!") == "{{ not rendered }}!"
    assert render(r, "a{# comment #}b") == "ab"


@pytest.mark.parametrize("template", [
    "{% if true %}x{% endif %}",      # control tags are outside the subset
    "{{ inputs.n | unknownFilter }}",
    "{{ unknownFunction() }}",
    "{{ 1 + }}",
    "{{ inputs.n",
    "{{ 'a' + 'b' }}",                 # Pebble concatenates with ~, not +
])
def test_outside_subset_fails_loudly(r, template):
    with pytest.raises(PebbleError):
        render(r, template)


def test_loop_outputs_2x_only():
    # Loop `outputs` entries are {item, outputs} (Loop.java LoopOutput; LoopOutputsFunction.java).
    ctx = {"outputs": {"loop": {"outputs": [{"item": {"value": "x", "iteration": 0}, "outputs": {"p": "a"}},
                                            {"item": {"value": "y", "iteration": 1}, "outputs": {"p": "b"}}]}}}
    assert Renderer(2).render("{{ loopOutputs(outputs.loop.outputs, 'p') }}", ctx) == '["a","b"]'
    assert Renderer(2).render("{{ loopOutputs(outputs.loop.outputs, 'zz') }}", ctx) == "[null,null]"
    with pytest.raises(PebbleError):
        Renderer(2).render("{{ loopOutputs('nope', 'p') }}", ctx)
    with pytest.raises(PebbleError):
        Renderer(1).render("{{ loopOutputs(outputs.loop.outputs, 'p') }}", ctx)
