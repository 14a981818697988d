"""Schedules: 6-field cron (seconds first) in an IANA timezone, fired on the real clock.

Sources: windmill.md §13 (`windmill-api-schedule/src/lib.rs`, `windmill-common/src/utils.rs
ScheduleType::from_str`). Croner (cron_version v2) numbers day-of-week 0-7 with 0/7 =
Sunday, which is what croniter does; seconds are mandatory in both cron versions.
"""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Callable, Dict, List, Optional

from croniter import croniter

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # pragma: no cover - Python < 3.9 is not supported anyway
    raise

from .jobs import now
from .store import Store

TICK_SECONDS = 0.25


def cron_problem(expr: Any, timezone: Any) -> Optional[str]:
    """Why a schedule expression/timezone is invalid, or None (schedule create/update)."""
    if not isinstance(expr, str) or len(expr.split()) != 6:
        # utils.rs: Windmill cron expressions have 6 fields, seconds first (windmill.md §13).
        return "invalid cron expression %r: expected 6 fields (sec min hour dom month dow)" % (expr,)
    if not croniter.is_valid(expr, second_at_beginning=True):
        return "invalid cron expression %r" % expr
    if zone(timezone) is None:
        return "invalid timezone %r (expected an IANA name such as UTC or Europe/Paris)" % (timezone,)
    return None


def zone(name: Any) -> Optional[dt.tzinfo]:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        return None


def next_fire(expr: str, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first fire time strictly after ``after``, computed in the schedule's timezone."""
    local = after.astimezone(zone(timezone) or dt.timezone.utc)
    nxt = croniter(expr, local, second_at_beginning=True).get_next(dt.datetime)
    return nxt.astimezone(dt.timezone.utc)


def preview(expr: str, timezone: str, count: int = 10) -> List[dt.datetime]:
    times: List[dt.datetime] = []
    cursor = now()
    for _ in range(count):
        cursor = next_fire(expr, timezone, cursor)
        times.append(cursor)
    return times


class Scheduler:
    """Background thread that launches a flow run whenever an enabled schedule is due."""

    def __init__(self, store: Store, launch: Callable[[str, Dict[str, Any], dt.datetime], Any]) -> None:
        self.store = store
        self.launch = launch
        self._next: Dict[tuple, dt.datetime] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="wm-scheduler")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def reset(self, workspace: str, path: str) -> None:
        """Forget the computed next time (after create/update/enable)."""
        with self.store.lock:
            self._next.pop((workspace, path), None)

    def _loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self._tick(now())
            except Exception:  # a bad schedule must not stop the others
                pass

    def _tick(self, current: dt.datetime) -> None:
        with self.store.lock:
            due = []
            for ws in self.store.workspaces.values():
                for path, sched in ws.schedules.items():
                    key = (ws.id, path)
                    if not sched.get("enabled", True):
                        self._next.pop(key, None)
                        continue
                    when = self._next.get(key)
                    if when is None:
                        self._next[key] = next_fire(sched["schedule"], sched["timezone"], current)
                    elif when <= current:
                        self._next[key] = next_fire(sched["schedule"], sched["timezone"], current)
                        due.append((key, dict(sched), when))
        for key, sched, when in due:
            self._fire(key, sched, when)

    def _fire(self, key: tuple, sched: Dict[str, Any], when: dt.datetime) -> None:
        self.launch(key[0], sched, when)
