"""``orchestrators_internal``: added by the launcher with ``--with`` to every step.

Runs inside the step process (which imports Metaflow anyway, so this costs nothing
extra) and reports what only the step knows: foreach width, switch branch taken,
artifact names and a ready-to-paste client snippet.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from metaflow.decorators import StepDecorator

from . import ids, reporter


class OrchestratorsInternalDecorator(StepDecorator):
    name = "orchestrators_internal"
    defaults = {"reporter": "file"}
    _artifacts: list = []

    def task_post_step(self, step_name, flow, graph, retry_count, max_user_code_retries):
        # Read now: persisting the task deletes artifacts from the flow object.
        self._artifacts = artifact_names(flow)

    def task_finished(self, step_name, flow, graph, is_task_ok, retry_count, max_user_code_retries):
        if not is_task_ok:
            return
        report = reporter.get(self.attributes["reporter"] or "file")
        report(task_report(step_name, flow, graph, self._artifacts))


def task_report(step_name: str, flow, graph, artifacts: list) -> Dict[str, Any]:
    from metaflow import current

    node = graph[step_name]
    width = int(flow._foreach_num_splits or 0) if node.type == "foreach" else None
    chosen = flow._transition[0][0] if node.type == "split-switch" else None
    return report_values(current.flow_name, current.run_id, step_name, current.task_id, artifacts, width, chosen)


def report_values(flow_name: str, run_id: str, step: str, task_id: str, artifacts: list, width: Optional[int] = None,
                  chosen: Optional[str] = None) -> Dict[str, Any]:
    """What a finished task tells its engine: ``width`` for a foreach step, ``chosen`` (the
    step taken) for a switch step. Also what a task of a resumed run reports for a task the
    run cloned (runtime/resumed.py), so the engine drives the run the same way."""
    pathspec = "%s/%s/%s/%s" % (flow_name, run_id, step, task_id)
    values: Dict[str, Any] = {
        "pathspec": pathspec,
        "run_id": run_id,
        "step": step,
        "task_id": task_id,
        "artifacts": artifacts,
        "snippet": client_snippet(pathspec),
    }
    path, iteration = ids.parse_task_id(task_id)
    if width is not None:
        values["foreach_width"] = width
        # The children's full index paths: an engine iterates over these, so every body
        # task gets its whole position as one value (no parent traversal needed).
        values["foreach_indices"] = [ids.index_text(path + (i,)) for i in range(width)]
    if chosen is not None:
        key = ids.position_key(step, path)
        values["branch"] = chosen
        # Position-keyed, so reports of many switch tasks merge without clashing.
        values["branches"] = {key: chosen}
        if iteration is not None and chosen != step:
            values["loops"] = {key: iteration}
    return values


def artifact_names(flow) -> list:
    """User artifacts only (Metaflow's own start with an underscore).

    What this step set lives on the instance; what it inherited is in the datastore the
    flow reads through (the input's, for a linear step)."""
    datastore = getattr(flow, "_datastore", None)
    names = set(getattr(datastore, "_objects", {}) or {}) | set(vars(flow))
    ephemeral = set(getattr(flow, "_EPHEMERAL", ())) | {"name"}
    return sorted(n for n in names if not n.startswith("_") and n not in ephemeral)


def client_snippet(pathspec: str) -> str:
    return "from metaflow import Task\ntask = Task(%r, _namespace_check=False)\nprint(task.data)" % pathspec
