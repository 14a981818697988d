"""Metaflow's @schedule (AWS EventBridge cron) -> a standard 5-field cron.

EventBridge: ``min hour day-of-month month day-of-week year``, ``?`` allowed, days of
week 1-7 = SUN-SAT. Standard cron (Kestra, and Windmill after a seconds field is added):
five fields, ``*`` instead of ``?``, days of week 0-6 = SUN-SAT.
"""
from __future__ import annotations

import re
from typing import Optional

from .errors import PlanError
from .model import Schedule

_DOW_NUMBER = re.compile(r"\d+")


def to_schedule(expression: Optional[str], timezone: Optional[str]) -> Optional[Schedule]:
    if not expression:
        return None
    cron = to_five_field_cron(expression)
    _validate(cron, expression)
    if timezone:
        check_timezone(timezone)
    return Schedule(cron=cron, timezone=timezone or None, source=expression)


def check_timezone(timezone: str) -> None:
    """An IANA zone name, refused at compile rather than by the engine at deploy time."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlanError("@schedule timezone %r is not an IANA time zone (e.g. 'Europe/Paris')" % timezone)


def to_five_field_cron(expression: str) -> str:
    fields = expression.split()
    if len(fields) == 5:
        # Already standard (a user-written 5-field cron): only `?` needs folding.
        return " ".join("*" if f == "?" else f for f in fields)
    if len(fields) != 6:
        raise PlanError("@schedule cron %r must have 5 or 6 fields" % expression)
    minute, hour, dom, month, dow, year = fields
    if year not in ("*", "?"):
        raise PlanError("@schedule cron %r restricts the year, which cron cannot express" % expression)
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else _shift_days_of_week(dow)
    return " ".join((minute, hour, dom, month, dow))


def _shift_days_of_week(field: str) -> str:
    """EventBridge numbers Sunday 1; cron numbers it 0. Names (MON-FRI) need no change.

    Only day numbers shift: not the step of ``1/2`` nor the week of ``2#1``.
    """
    return ",".join(_shift_part(part) for part in field.split(","))


def _shift_part(part: str) -> str:
    for sep in ("/", "#"):
        if sep in part:
            days, rest = part.split(sep, 1)
            return _shift_part(days) + sep + rest
    return _DOW_NUMBER.sub(lambda m: str(int(m.group()) - 1), part)


def _validate(cron: str, source: str) -> None:
    from croniter import croniter

    if not croniter.is_valid(cron):
        raise PlanError("@schedule %r does not convert to a valid cron (got %r)" % (source, cron))
