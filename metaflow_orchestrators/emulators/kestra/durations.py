"""ISO-8601 durations, the only form Kestra accepts for `timeout`, `interval`, SLA `duration`
(Java `java.time.Duration`, kestra.md §8.1)."""
from __future__ import annotations

import re

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: object) -> float:
    """Seconds in an ISO-8601 duration like ``PT1M30S``; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("Invalid duration %r: expected an ISO-8601 string like PT30S" % (text,))
    m = _DURATION.match(text.strip().upper())
    if not m or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError("Invalid duration %r: expected an ISO-8601 string like PT30S" % (text,))
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def format_duration(seconds: float) -> str:
    """Java Duration.toString()-like text (e.g. ``PT1.5S``), used in `state.duration`."""
    return "PT%sS" % (("%.3f" % seconds).rstrip("0").rstrip(".") or "0")
