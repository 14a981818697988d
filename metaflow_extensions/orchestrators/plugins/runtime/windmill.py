"""What a task running on Windmill asks Windmill itself (stdlib only: no Metaflow import):
its attempt number, and, once a run succeeded, which deployed flows wait for it.

Windmill has no retry-count variable (windmill-errata, "Facts the compiler needs"): a
retry re-runs the module with the failed job's arguments, so the attempt number cannot
come from an input transform either. Before it pushes retry ``n`` of a module, the flow
engine stores ``flow_status.retry = {fail_count: n, failed_jobs: [...]}`` on the flow job
that runs the module (``worker_flow.rs`` ``JSONB_SET(flow_status, ARRAY['retry'], ...)``
with ``RetryStatus { fail_count, .. }``, and removes it once the module succeeds;
``windmill-types/src/flow_status.rs`` ``RetryStatus.fail_count: u32``, @1.743.0 and
@1.788.0). That flow job is the module's parent, ``WM_FLOW_JOB_ID``
(``windmill-common/src/variables.rs``: "Job id of the encapsulating flow"); modules of
one (sub)flow run one after another, so its ``fail_count`` is the current module's.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import ids, reporter

REQUIRED = ("BASE_INTERNAL_URL", "WM_WORKSPACE", "WM_FLOW_JOB_ID", "WM_TOKEN")
TRIES = 5
INIT_ARG = "MFO_INIT"  # the first step's module: the init's spec part, with the deployment's facts
EVENT_INPUT = "metaflow_event"  # the flow input a triggering event's payload arrives in
FLOW_INPUT = "windmill:flow-input"  # MFO_PARAMS of the first module: read the run's input from the flow job


class WindmillLookupError(Exception):
    """Windmill could not tell the attempt; guessing would overwrite attempt 0."""


def flow_job_url(env: Mapping[str, str]) -> str:
    return "%s/api/w/%s/jobs_u/get/%s?no_logs=true" % (
        env["BASE_INTERNAL_URL"].rstrip("/"), urllib.parse.quote(env["WM_WORKSPACE"], safe=""),
        urllib.parse.quote(env["WM_FLOW_JOB_ID"], safe=""))


def attempt_of(job: Mapping[str, Any]) -> int:
    """0-based attempt of the module running in ``job`` (a ``GET jobs_u/get`` body)."""
    retry = (job.get("flow_status") or {}).get("retry") or {}
    return int(retry.get("fail_count") or 0)


def current_attempt(env: Optional[Mapping[str, str]] = None,
                    fetch: Optional[Callable[[urllib.request.Request], Any]] = None) -> int:
    return attempt_of(flow_job(env, fetch))


def flow_input(env: Optional[Mapping[str, str]] = None,
               fetch: Optional[Callable[[urllib.request.Request], Any]] = None) -> Dict[str, Any]:
    """The run's input, read from the flow job (``args``) rather than passed to the init
    module: Windmill hands a bash module its inputs as process arguments, each limited to
    128 KiB by the kernel, while a flow's input is limited only by Windmill."""
    return dict(flow_job(env, fetch).get("args") or {})


def flow_job(env: Optional[Mapping[str, str]] = None,
             fetch: Optional[Callable[[urllib.request.Request], Any]] = None) -> Dict[str, Any]:
    """``GET jobs_u/get/$WM_FLOW_JOB_ID`` with the job's own token, retried a few times."""
    env = os.environ if env is None else env
    check_flow_step(env)
    request = urllib.request.Request(flow_job_url(env), headers={
        "Authorization": "Bearer %s" % env["WM_TOKEN"], "Accept": "application/json"})
    fetch = fetch or _fetch

    def read() -> Dict[str, Any]:
        job = fetch(request)
        if not isinstance(job, dict):
            raise ValueError("not a job: %r" % (job,))
        return job

    try:
        return _retried(read, (urllib.error.URLError, OSError, ValueError))
    except (urllib.error.URLError, OSError, ValueError) as ex:
        raise WindmillLookupError("cannot read the flow job %s: %s" % (env["WM_FLOW_JOB_ID"], ex))


def _retried(call: Callable[[], Any], errors: Tuple[type, ...]) -> Any:
    """``call()``, tried up to TRIES times while it raises one of ``errors`` (waiting 0.5 s,
    1 s, ... in between); the last error is raised."""
    for i in range(TRIES):
        try:
            return call()
        except errors:
            if i + 1 == TRIES:
                raise
            time.sleep(0.5 * (i + 1))
    raise AssertionError("not reached")


def _fetch(request: urllib.request.Request) -> Any:
    """The JSON body, or the text of one that is not JSON (``jobs/run`` answers the new
    job's id as plain text)."""
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        if response.headers.get_content_type() == "application/json":
            raise
        return text.strip()


# --- what a deployment says of itself -------------------------------------------------------


def deployment_of(flow: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """What the compiler stored with the init's spec part in the first module of a flow we
    deployed (flow name, owner, project, branch, events it listens for, flows it runs after,
    parameter types), from a ``flows/get`` body; None for any other flow."""
    modules = ((flow.get("value") or {}).get("modules")) or []
    if not modules:
        return None
    transforms = (modules[0].get("value") or {}).get("input_transforms") or {}
    # Deployed before the init moved into the first step (0.x): a module `mf__init` held it.
    held_by = "MFO_STEP" if modules[0].get("id") == "mf__init" else INIT_ARG
    part = (transforms.get(held_by) or {}).get("value")
    if not isinstance(part, dict) or not isinstance(part.get("deployment"), dict):
        return None
    return dict(part["deployment"], params=dict(part.get("params") or {}),
                internal_inputs=list(part.get("internal_inputs") or ()))


# --- @trigger_on_finish: started by the upstream run itself ---------------------------------


def _api(env: Mapping[str, str], method: str, path: str, body: Any = None,
         fetch: Optional[Callable[[urllib.request.Request], Any]] = None) -> Any:
    """One Windmill API call with the job's token; a GET is tried again a few times (a
    POST is not: it may have started a flow already)."""
    url = "%s/api/w/%s/%s" % (env["BASE_INTERNAL_URL"].rstrip("/"), urllib.parse.quote(env["WM_WORKSPACE"], safe=""),
                              path)
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": "Bearer %s" % env["WM_TOKEN"], "Accept": "application/json",
        "Content-Type": "application/json"})
    fetch = fetch or _fetch
    if method != "GET":
        return fetch(request)
    return _retried(lambda: fetch(request), (urllib.error.URLError, OSError))


def listeners(env: Mapping[str, str], upstream: str, fetch=None) -> List[str]:
    """Paths of the flows in this flow's folder deployed with ``@trigger_on_finish`` on
    ``upstream`` (its deployed name, project-aware). Read at run time, so a flow deployed
    after this one is found too."""
    folder = env["WM_FLOW_PATH"].split("/")[1]
    prefix = urllib.parse.quote("f/%s/" % folder, safe="")
    found = []
    for flow in _api(env, "GET", "flows/list?path_start=%s&per_page=1000" % prefix, fetch=fetch) or []:
        doc = _api(env, "GET", "flows/get/%s" % flow["path"], fetch=fetch)
        facts = deployment_of(doc) or {}
        if upstream in (facts.get("after") or ()):
            found.append(flow["path"])
    return found


def start_listeners(env: Mapping[str, str], spec: Mapping[str, Any], fetch=None) -> List[Tuple[str, str]]:
    """Start every flow waiting for this run, with the run as the event payload (what
    Metaflow's ``current.trigger`` describes: the upstream flow and run)."""
    run_id = ids.run_id("windmill", env["MFO_EXECUTION_ID"])
    payload = {"flow_name": spec["flow_name"], "deployed_name": spec["deployed_name"], "run_id": run_id,
               "pathspec": "%s/%s" % (spec["flow_name"], run_id)}
    started = []
    for path in listeners(env, spec["deployed_name"], fetch=fetch):
        job = _api(env, "POST", "jobs/run/f/%s" % path, {EVENT_INPUT: payload}, fetch=fetch)
        started.append((path, str(job)))
    return started


def finish_run(env: Mapping[str, str], part: Mapping[str, Any]) -> int:
    """What the end step's module does once the step succeeded (``MFO_FINISH``: the run
    succeeded): start every deployed flow waiting for this run (``@trigger_on_finish``;
    Windmill has no flow-finish trigger). In the end step's own process: a module of its
    own after it cost an interpreter start on every run. The flows started are added to the
    module's result, after what the step reported there."""
    try:
        started = start_listeners(env, part)
    except (urllib.error.URLError, OSError, ValueError, KeyError) as ex:
        print("metaflow-orchestrators: cannot start the flows waiting for %s: %s" % (part["deployed_name"], ex),
              file=sys.stderr)
        return 1
    for path, job in started:
        print("@trigger_on_finish: started %s (job %s)" % (path, job))
    if not started:
        print("No deployed flow waits for %s (@trigger_on_finish)." % part["deployed_name"])
    add_to_result({"started": [{"flow": p, "job": j} for p, j in started]})
    return 0


def add_to_result(values: Mapping[str, Any]) -> None:
    """Merge ``values`` into the module's result (``./result.json``, written by
    reporter.report_to_windmill)."""
    try:
        with open("result.json") as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = {}
    if not isinstance(result, dict):
        result = {}
    reporter.report_to_windmill(dict(result, **values))


# What finish_run reads besides REQUIRED: the flow's path gives the folder its listeners are in.
FINISH_REQUIRED = ("WM_FLOW_PATH",)


def check_flow_step(env: Mapping[str, str], also: Tuple[str, ...] = ()) -> None:
    """The Windmill flow step's job variables we read (REQUIRED, and ``also``) are set."""
    missing = [n for n in REQUIRED + also if not env.get(n)]
    if missing:
        raise WindmillLookupError("not running as a Windmill flow step (no %s)" % ", ".join(missing))


def finished_main() -> int:
    """``--finished``: the module ``mf__finished`` that flows deployed before the run's end
    moved into the end step (0.x) still have, reached only when every step succeeded."""
    env = dict(os.environ)
    try:
        check_flow_step(env, FINISH_REQUIRED + ("MFO_STEP", "MFO_EXECUTION_ID"))
    except WindmillLookupError as ex:
        print("metaflow-orchestrators: %s" % ex, file=sys.stderr)
        return 2
    return finish_run(env, json.loads(env["MFO_STEP"]))


if __name__ == "__main__":
    sys.exit(finished_main() if sys.argv[1:] == ["--finished"] else 2)
