"""The execution page at Kestra's UI path (``/ui[/{tenant}]/executions/{ns}/{flow}/{id}``):
every task run, nested under its parent task run, with 2.x Loop iterations (executions of
their own) under their Loop; rendered by ``emulators/pages.py``."""
from __future__ import annotations

from typing import Dict, List

from starlette.requests import Request
from starlette.responses import Response

from ..pages import Row, RunPage, render, seconds_text
from .records import Execution


def page(engine, request: Request) -> Response:
    exe: Execution = engine.get_execution(request.path_params["executionId"])
    state = exe.state.current
    rows = _rows(engine, exe, 0)  # list copies, no execution lock: logs take the engine's
    return render(RunPage(title="Execution %s" % exe.id, subtitle="%s.%s (Kestra %d.x emulator)"
                          % (exe.namespace, exe.flow_id, engine.version), state=state,
                          running=not exe.state.is_terminated(), rows=rows))


def _rows(engine, exe: Execution, depth: int) -> List[Row]:
    children: Dict[object, list] = {}
    for run in list(exe.task_runs):
        children.setdefault(run.parent_id, []).append(run)
    out: List[Row] = []

    def visit(parent, level: int) -> None:
        for run in children.get(parent, []):
            out.append(_row(engine, run, level))
            for sub in list(exe.iterations):
                if sub.loop_run and sub.loop_run["taskRunId"] == run.id:
                    out.extend(_rows(engine, sub, level + 1))
            visit(run.id, level + 1)

    visit(None, depth)
    return out


def _row(engine, run, depth: int) -> Row:
    histories = run.state.histories
    seconds = (histories[-1][1] - histories[0][1]).total_seconds() if run.state.is_terminated() else None
    reported = ((run.outputs or {}).get("vars") or {}) if isinstance(run.outputs, dict) else {}
    logs = [e.get("message", "") for e in engine.get_logs(run.execution.id, taskrun_id=run.id)]
    return Row(name=run.task_id, state=run.state.current, depth=depth, detail=run.value or "",
               attempts=len(run.attempts) or 1, duration=seconds_text(seconds),
               pathspec=str(reported.get("pathspec") or ""), logs=logs)
