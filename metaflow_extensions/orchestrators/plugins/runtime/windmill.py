"""What a task running on Windmill asks Windmill itself (stdlib only: no Metaflow import).

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
from typing import Any, Callable, Mapping, Optional

REQUIRED = ("BASE_INTERNAL_URL", "WM_WORKSPACE", "WM_FLOW_JOB_ID", "WM_TOKEN")
TRIES = 5


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
    env = os.environ if env is None else env
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise WindmillLookupError("not running as a Windmill flow step (no %s)" % ", ".join(missing))
    request = urllib.request.Request(flow_job_url(env), headers={
        "Authorization": "Bearer %s" % env["WM_TOKEN"], "Accept": "application/json"})
    fetch = fetch or _fetch
    for i in range(TRIES):
        try:
            return attempt_of(fetch(request))
        except (urllib.error.URLError, OSError, ValueError) as ex:
            if i + 1 == TRIES:
                raise WindmillLookupError("cannot read the flow job %s: %s" % (env["WM_FLOW_JOB_ID"], ex))
            time.sleep(0.5 * (i + 1))
    raise AssertionError("not reached")


def _fetch(request: urllib.request.Request) -> Any:
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode("utf-8"))
