"""Where a task runs inside an execution: the execution (root, or 2.x Loop iteration) that records
its task run, its parent task run, the value a 1.x ForEach hands to its direct children, the retry
inherited from flowable parents, and the 2.x Parallel interrupts it is under."""
from __future__ import annotations

import threading
from typing import Any, List, Optional

from .records import Execution, TaskRun


class Interrupt:
    """2.x `Parallel.onChildFailure` FAIL/CANCEL: once fired, still-running descendants land in
    ``state`` (core/io/kestra/plugin/core/flow/OnChildFailureInterface.java@v2.0.0,
    executor/io/kestra/executor/ExecutorService.java@v2.0.0 `interruptOnChildFailure`)."""

    def __init__(self) -> None:
        self.fired = threading.Event()
        self.state = "FAILED"
        self.processes: List[Any] = []
        self.lock = threading.Lock()

    def fire(self, state: str) -> None:
        with self.lock:
            self.state = state
            self.fired.set()
            for proc in self.processes:
                proc.interrupted = state
                proc.kill()


class Scope:
    """Where a task runs (see module doc)."""

    def __init__(self, exe: Execution, parent: Optional[TaskRun], retry: Any = None,
                 value: Optional[str] = None, iteration: Optional[int] = None,
                 interrupts: tuple = ()):
        self.exe = exe
        self.parent = parent
        self.retry = retry
        self.value = value          # carried by the task runs created in this scope (1.x ForEach children)
        self.iteration = iteration
        self.interrupts = interrupts

    def child(self, parent: TaskRun, **changes: Any) -> "Scope":
        # Children of any flowable start without a value: FlowableUtils.resolveTasks does not carry it
        # (core/io/kestra/core/runners/FlowableUtils.java@v1.3.34 `resolveTasks`).
        fields = dict(exe=self.exe, parent=parent, retry=self.retry, value=None, iteration=None,
                      interrupts=self.interrupts)
        fields.update(changes)
        return Scope(**fields)

    def interrupted(self) -> Optional[str]:
        for intr in self.interrupts:
            if intr.fired.is_set():
                return intr.state
        return None
