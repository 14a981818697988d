"""One error type for everything the plan cannot express faithfully."""
from __future__ import annotations

from typing import Optional


class PlanError(Exception):
    """A flow construct that cannot be planned (or run on an engine), naming the step."""

    def __init__(self, message: str, step: Optional[str] = None):
        self.step = step
        super().__init__("Step *%s*: %s" % (step, message) if step else message)
