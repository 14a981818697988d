"""Resume into a new run, as Metaflow's own ``resume`` does (metaflow.md §11.2, way 1).

The resume command starts a new engine run of the deployed flow carrying a
``ResumeRequest`` (Kestra: execution labels, which the Kestra UI shows; Windmill: one extra
run argument). Its init task runs ``resume --clone-only --reentrant``: Metaflow itself clones
every task of the origin run that succeeded, outside the steps to re-run, into the new run
under the same (deterministic) task ids. Every step task of the new run then looks for its
own task there first: a clone is not executed again, the task only reports what the clone
recorded (foreach width, switch branch), so the engine walks the run exactly as the origin
did; every other task runs with ``--clone-run-id`` (``current.origin_run_id``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

# Kestra execution labels (key: value, both plain text).
LABEL_ORIGIN = "metaflow-origin-run"
LABEL_STEP = "metaflow-resume-step"
LABEL_MODE = "metaflow-resume-mode"
MODE_NEW_PARAMETERS = "new-parameters"
# Windmill: the run argument holding the request, as {label: value}.
RUN_ARG = "metaflow_resume"

_RUN_ID = re.compile(r"^(kestra|windmill)-[A-Za-z0-9_.-]{1,80}$")
_STEP = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ResumeError(ValueError):
    """A resume request that cannot be honoured."""


@dataclass(frozen=True)
class ResumeRequest:
    """``origin_run_id``: the Metaflow run to resume. ``step``: re-run from this step
    (Metaflow's ``STEP_TO_RERUN``). ``new_parameters``: the run was given parameter values
    that differ from the origin's, so nothing is cloned and every step runs with them."""

    origin_run_id: str
    step: Optional[str] = None
    new_parameters: bool = False

    def __post_init__(self) -> None:
        check_run_id(self.origin_run_id)
        if self.step is not None and not _STEP.match(self.step):
            raise ResumeError("%r is not a step name" % self.step)

    def labels(self) -> Dict[str, str]:
        out = {LABEL_ORIGIN: self.origin_run_id}
        if self.step:
            out[LABEL_STEP] = self.step
        if self.new_parameters:
            out[LABEL_MODE] = MODE_NEW_PARAMETERS
        return out

    @classmethod
    def from_labels(cls, labels: Optional[Mapping[str, Any]]) -> Optional["ResumeRequest"]:
        """The request carried by a run's labels (or run argument); None when it has none."""
        labels = labels or {}
        origin = str(labels.get(LABEL_ORIGIN) or "")
        if not origin:
            return None
        return cls(origin, str(labels.get(LABEL_STEP) or "") or None,
                   str(labels.get(LABEL_MODE) or "") == MODE_NEW_PARAMETERS)


def check_run_id(run_id: str) -> str:
    """Only runs of these engines can be resumed: their task ids are the deterministic ones
    the new run's tasks look for (a local run's are numbers)."""
    if not _RUN_ID.match(run_id or ""):
        raise ResumeError("%r is not the run id of a Kestra or Windmill run of this orchestrator "
                          "(kestra-<execution id> or windmill-<job id>)" % (run_id,))
    return run_id


def cloned_report(spec: Mapping[str, Any], run_id: str, task_id: str) -> Optional[Dict[str, Any]]:
    """What the engine needs from this task if the run's init cloned it (None otherwise): the
    report the step would have made, read from the clone's artifacts. A task of this run
    with a failed last attempt is not a clone: it runs."""
    from metaflow.exception import MetaflowException

    from .datastore import flow_datastore
    from .decorator import report_values

    flow_ds = flow_datastore(spec["flow_name"], spec.get("top") or ())
    try:
        task = flow_ds.get_task_datastore(run_id, spec["step"], task_id)
        if not task["_task_ok"]:
            return None
    except (MetaflowException, KeyError):
        return None
    node = spec.get("node")
    width = int(task["_foreach_num_splits"] or 0) if node == "foreach" else None
    chosen = task["_transition"][0][0] if node == "split-switch" else None
    artifacts = sorted(name for name, _ in task.items() if not name.startswith("_") and name != "name")
    return report_values(spec["flow_name"], run_id, spec["step"], task_id, artifacts, width, chosen)


def origin_of(text: Optional[str]) -> Optional[str]:
    """The origin run id a step task was handed (empty: the run is not a resume)."""
    text = (text or "").strip()
    return check_run_id(text) if text else None

