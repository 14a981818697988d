"""How a task tells its engine what happened, in the engine's native form.

The internal decorator hands one dict (foreach width, switch branch, artifact names,
client snippet) to a ``Reporter``; each engine back end registers the format its engine
reads. Nothing here imports Metaflow.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Dict, Mapping

Reporter = Callable[[Mapping[str, Any]], None]

REPORT_FILE_ENV = "MFO_REPORT_FILE"


def report_to_file(values: Mapping[str, Any]) -> None:
    """Engine-neutral: JSON in ``$MFO_REPORT_FILE`` (default ``./mfo-report.json``)."""
    path = os.environ.get(REPORT_FILE_ENV) or "mfo-report.json"
    with open(path, "w") as f:
        json.dump(dict(values), f, sort_keys=True)


def report_to_kestra(values: Mapping[str, Any]) -> None:
    """Kestra turns a ``::{"outputs": {...}}::`` stdout line into task outputs; the
    ``metaflow_*`` names are what users see in the Kestra UI's Outputs tab."""
    outputs = dict(values)
    outputs["metaflow_artifacts"] = outputs.pop("artifacts", [])
    outputs["metaflow_snippet"] = outputs.pop("snippet", "")
    sys.stdout.write("::%s::\n" % json.dumps({"outputs": outputs}, sort_keys=True))
    sys.stdout.flush()


def report_to_windmill(values: Mapping[str, Any]) -> None:
    """A Windmill bash step's result is ``./result.json`` when present."""
    with open("result.json", "w") as f:
        json.dump(dict(values), f, sort_keys=True)


REPORTERS: Dict[str, Reporter] = {
    "file": report_to_file,
    "local": report_to_file,
    "kestra": report_to_kestra,
    "windmill": report_to_windmill,
}


def register(name: str, reporter: Reporter) -> None:
    REPORTERS[name] = reporter


def get(name: str) -> Reporter:
    try:
        report = REPORTERS[name]
    except KeyError:
        raise ValueError("unknown reporter %r (known: %s)" % (name, ", ".join(sorted(REPORTERS))))
    return lambda values: report(dict(reported_before(), **values))


# What the task reported before its step ran (the first step's task: the run it started), as
# JSON: every later report repeats it, since a Windmill result is one file that the step's
# report replaces, and the step may run in another process (another interpreter).
EARLIER_ENV = "MFO_REPORTED"


def reported_before() -> Dict[str, Any]:
    text = os.environ.get(EARLIER_ENV)
    return json.loads(text) if text else {}
