"""Where a task runs inside an execution: its parent task run, the enclosing ForEach values,
the Loop item and the output store it reads and writes (kestra.md §6)."""
from __future__ import annotations

from typing import Any, Dict, Optional

from .records import TaskRun


class Scope:
    """Where a task runs: parent task run, enclosing ForEach values, Loop item, output store."""

    def __init__(self, parent: Optional[TaskRun], values: tuple, outputs: Dict[str, Any],
                 item: Optional[Dict[str, Any]] = None, loop_path: tuple = (), retry: Any = None,
                 iteration: Optional[int] = None):
        self.iteration = iteration
        self.parent = parent
        self.values = values
        self.outputs = outputs
        self.item = item
        self.loop_path = loop_path
        self.retry = retry

    def child(self, parent: TaskRun, **changes: Any) -> "Scope":
        fields = dict(parent=parent, values=self.values, outputs=self.outputs, item=self.item,
                      loop_path=self.loop_path, retry=self.retry, iteration=self.iteration)
        fields.update(changes)
        return Scope(**fields)
