"""A small read-only page for one run, served by each emulator at its engine's own UI path
(Kestra: the execution page; Windmill: the run page), so the link our CLI prints opens
something: the tasks with their state, attempts, duration, the Metaflow pathspec they
reported, and their logs; refreshed every two seconds while the run goes on.

Each emulator turns its own records into :class:`Row` s; this module only renders them.
Everything shown is escaped: step output and flow values are text, never markup.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from starlette.responses import HTMLResponse

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2430}
h1{font-size:1.3rem;margin:0 0 .3rem} .sub{color:#59616e;margin-bottom:1rem}
table{border-collapse:collapse;width:100%} th,td{padding:.35rem .6rem;border-bottom:1px solid #e3e6eb;
text-align:left;vertical-align:top;font-size:.9rem} th{background:#f4f6f8}
.state{font-weight:600} .SUCCESS,.success{color:#16803c} .FAILED,.failure,.KILLED,.canceled{color:#c02626}
.RUNNING,.running,.CREATED,.QUEUED,.queued{color:#9a6700} code{font-size:.85rem}
details pre{background:#f6f8fa;padding:.5rem;max-height:20rem;overflow:auto;white-space:pre-wrap}
"""


@dataclass
class Row:
    """One task of the run (a Kestra task run, a Windmill module job)."""

    name: str
    state: str
    depth: int = 0
    detail: str = ""  # foreach value / iteration
    attempts: int = 1
    duration: str = ""
    pathspec: str = ""  # what the Metaflow task reported
    logs: List[str] = field(default_factory=list)


@dataclass
class RunPage:
    title: str
    subtitle: str
    state: str
    running: bool
    rows: Sequence[Row]


def seconds_text(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    return "%.1f s" % seconds if seconds < 120 else "%d min %d s" % divmod(int(seconds), 60)


def render(page: RunPage) -> HTMLResponse:
    e = html.escape
    refresh = '<meta http-equiv="refresh" content="2">' if page.running else ""
    body = ["<!DOCTYPE html><html><head><meta charset=\"utf-8\">", refresh,
            "<title>%s</title><style>%s</style></head><body>" % (e(page.title), STYLE),
            "<h1>%s <span class=\"state %s\" id=\"run-state\">%s</span></h1>" % (e(page.title), e(page.state), e(page.state)),
            "<div class=\"sub\">%s</div>" % e(page.subtitle),
            "<table id=\"tasks\"><tr><th>Task</th><th>State</th><th>Attempts</th><th>Duration</th>"
            "<th>Metaflow task</th><th>Logs</th></tr>"]
    for row in page.rows:
        name = ("&nbsp;" * 4 * row.depth) + e(row.name) + (" <code>[%s]</code>" % e(row.detail) if row.detail else "")
        logs = ("<details><summary>%d lines</summary><pre>%s</pre></details>" % (len(row.logs), e("\n".join(row.logs)))
                if row.logs else "")
        body.append("<tr class=\"task\"><td>%s</td><td class=\"state %s\">%s</td><td>%d</td><td>%s</td>"
                    "<td><code>%s</code></td><td>%s</td></tr>"
                    % (name, e(row.state), e(row.state), row.attempts, e(row.duration), e(row.pathspec), logs))
    body.append("</table></body></html>")
    return HTMLResponse("".join(body))
