"""Bash rawscripts: `set -e`, argument declarations and binding, result rules, environment.

Source of every rule: windmill.md §5 (bash_executor.rs, windmill-parser-bash) and §6.
"""
from __future__ import annotations

from metaflow_orchestrators.emulators.windmill.scripts import bash_arg_names, bash_argv, last_line, raw_to_string
from wmhelpers import bash, flow, js, static


# ---- argument declarations (pure functions) ------------------------------------------------
def test_arg_regex_accepts_the_three_forms_and_stops_at_a_gap():
    content = 'A="$1"\nB="${2}"\nC="${3:-dflt}"  # comment\nE="$5"\n'
    assert bash_arg_names(content) == ["A", "B", "C"]


def test_arg_regex_requires_column_zero_and_quotes():
    assert bash_arg_names('  A="$1"\nB=$2\n') == []
    assert bash_arg_names('X="$2"\nY="$3"\n') == []  # not contiguous from $1


def test_raw_to_string_passes_strings_raw_and_json_otherwise():
    assert raw_to_string("a b") == "a b"
    assert raw_to_string({"k": [1, 2]}) == '{"k":[1,2]}'
    assert raw_to_string(None) == "null"
    assert raw_to_string(True) == "true"
    assert bash_argv('A="$1"\nB="$2"\n', {"B": 3}) == ["", "3"]


def test_last_line_is_the_trimmed_tail():
    assert last_line("a\n  b  \n") == "b"
    assert last_line("") == ""


# ---- executed ----------------------------------------------------------------------------------
def test_args_bound_by_name_not_by_transform_order(wm):
    step = bash("a", 'FIRST="$1"\nSECOND="$2"\necho "$FIRST-$SECOND"',
                SECOND=static("two"), FIRST=static("one"), UNUSED=static("ignored"))
    job = wm.run_flow(flow(step))
    assert job["success"] is True
    assert job["result"] == "one-two"


def test_non_string_args_are_compact_json_and_missing_is_empty(wm):
    step = bash("a", 'OBJ="$1"\nNUL="$2"\nMISSING="$3"\necho "$OBJ|$NUL|[$MISSING]"',
                OBJ=static({"x": [1, 2]}), NUL=static(None))
    assert wm.run_flow(flow(step))["result"] == '{"x":[1,2]}|null|[]'


def test_gap_in_declarations_leaves_later_args_unbound(wm):
    step = bash("a", 'A="$1"\nC="$3"\necho "[$A][$C][$3]"', A=static("a"), C=static("c"))
    assert wm.run_flow(flow(step))["result"] == "[a][][]"


def test_result_is_last_output_line_as_a_string_even_if_json(wm):
    step = bash("a", 'echo first\necho \'{"k": 1}\'')
    job = wm.run_flow(flow(step, bash("b", 'V="$1"\necho "[$V]"', V=js("results.a.k ?? 'undefined'"))))
    assert job["result"] == "[undefined]"


def test_stderr_is_part_of_the_combined_stream(wm):
    assert wm.run_flow(flow(bash("a", "echo out\necho err >&2")))["result"] == "err"


def test_result_json_is_parsed(wm):
    step = bash("a", 'echo noise\necho \'{"n": 2, "l": [1]}\' > result.json')
    nxt = bash("b", 'V="$1"\necho "$V"', V=js("results.a.n + results.a.l.length"))
    job = wm.run_flow(flow(step, nxt))
    assert job["result"] == "3"


def test_result_out_is_a_string(wm):
    step = bash("a", 'echo \'{"n": 2}\' > result.out\necho other')
    assert wm.run_flow(flow(step))["result"] == '{"n": 2}\n'


def test_empty_result_json_falls_back_to_last_line(wm):
    step = bash("a", ": > result.json\necho fallback")
    assert wm.run_flow(flow(step))["result"] == "fallback"


def test_invalid_result_json_fails_the_job(wm):
    job = wm.run_flow(flow(bash("a", "echo '{oops' > result.json")))
    assert job["success"] is False


def test_set_e_prefix_fails_on_first_error(wm):
    job = wm.run_flow(flow(bash("a", "false\necho never")))
    assert job["success"] is False
    assert job["result"]["error"]["step_id"] == "a"
    assert "never" not in wm.http.get(wm.w("jobs_u/get_flow_all_logs/" + job["id"])).text


def test_nonzero_exit_fails_with_error_object(wm):
    job = wm.run_flow(flow(bash("a", "echo boom\nexit 3")))
    assert job["success"] is False
    error = job["result"]["error"]
    assert error["name"] == "ExecutionErr" and "3" in error["message"] and error["step_id"] == "a"


def test_each_job_has_its_own_directory(wm):
    one = bash("a", "touch marker\npwd")
    two = bash("b", 'if [ -e marker ]; then echo shared; else pwd; fi')
    job = wm.run_flow(flow(one, bash("c", 'A="$1"\nB="$2"\n[ "$A" != "$B" ] && echo distinct',
                                     A=js("results.a"), B=js("results.b")), two))
    assert job["result"] not in ("shared",)
    assert job["success"] is True


def test_environment_is_cleared_to_what_windmill_provides(wm, emulator):
    script = ('for v in PATH HOME WM_WORKSPACE WM_TOKEN WM_JOB_ID WM_FLOW_JOB_ID WM_ROOT_FLOW_JOB_ID '
              'WM_FLOW_STEP_ID BASE_INTERNAL_URL WM_FLOW_PATH USER LOGNAME WM_TEST_SECRET WM_TEST_OTHER '
              'METAFLOW_TEST_A WM_ITERATION_INDEX WM_FLOW_RETRY_COUNT; do\n'
              '  printf \'"%s": "%s",\' "$v" "${!v-__unset__}"\ndone > env.txt\n'
              'printf "{%s \\"_\\": 0}" "$(cat env.txt)" > result.json')
    path = wm.create_flow(flow(bash("envstep", script)))
    job = wm.wait(wm.run(path))
    env = job["result"]
    assert env["PATH"] and env["HOME"] != "__unset__"
    assert env["WM_WORKSPACE"] == "test" and env["WM_TOKEN"] == emulator.token
    assert env["WM_FLOW_JOB_ID"] == job["id"] and env["WM_ROOT_FLOW_JOB_ID"] == job["id"]
    assert env["WM_FLOW_STEP_ID"] == "envstep" and env["WM_FLOW_PATH"] == path
    assert env["BASE_INTERNAL_URL"] == emulator.url
    step_job = job["flow_status"]["modules"][0]["job"]
    assert env["WM_JOB_ID"] == step_job
    # Cleared: no USER/LOGNAME; only whitelisted worker variables pass.
    assert env["USER"] == "__unset__" and env["LOGNAME"] == "__unset__"
    assert env["WM_TEST_SECRET"] == "s3cret" and env["METAFLOW_TEST_A"] == "a"
    assert env["WM_TEST_OTHER"] == "__unset__"
    # No retry/iteration variables exist in Windmill (windmill.md §6).
    assert env["WM_ITERATION_INDEX"] == "__unset__" and env["WM_FLOW_RETRY_COUNT"] == "__unset__"


def test_job_can_call_the_api_with_its_token(wm):
    script = ('import json, os, urllib.request\n'
              'def main():\n'
              '    url = "%s/api/w/%s/jobs_u/get/%s" % (os.environ["BASE_INTERNAL_URL"], os.environ["WM_WORKSPACE"],\n'
              '                                       os.environ["WM_FLOW_JOB_ID"])\n'
              '    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["WM_TOKEN"]})\n'
              '    return json.load(urllib.request.urlopen(req))["type"]\n')
    job = wm.run_flow(flow({"id": "p", "value": {"type": "rawscript", "language": "python3", "content": script,
                                                 "input_transforms": {}}}))
    assert job["result"] == "QueuedJob"
