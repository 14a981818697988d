"""What an engine can run: each back end declares its limits, the plan names the step.

Kept engine-neutral: the back end passes its name and capabilities; the messages say
why (the orchestrator-kit and users both need the reason, not just "unsupported").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet

from .errors import PlanError
from .model import Foreach, Plan, Switch, iter_blocks, iter_steps


@dataclass(frozen=True)
class Capabilities:
    engine: str
    parallel: bool = False  # @parallel / num_parallel gangs
    compute: FrozenSet[str] = frozenset()  # compute decorators it can launch (@kubernetes, ...)
    recursive_switch: bool = True


def require_supported(plan: Plan, caps: Capabilities) -> None:
    """Raise one PlanError for the first construct ``caps.engine`` cannot run."""
    for task in iter_steps(plan.root):
        if task.parallel and not caps.parallel:
            raise PlanError(
                "@parallel is not supported on %s because it requires a gang of tasks that "
                "start together and reach each other over the network, which %s cannot "
                "schedule" % (caps.engine, caps.engine), task.name)
        if task.compute and task.compute not in caps.compute:
            raise PlanError(
                "@%s is not supported on %s because it only launches remote compute through "
                "Metaflow's local runtime; forwarded as is, the step would silently run on "
                "the %s worker instead" % (task.compute, caps.engine, caps.engine), task.name)
    for block in iter_blocks(plan.root):
        if isinstance(block, Switch) and block.head.recursive and not caps.recursive_switch:
            raise PlanError("a switch that loops back to itself cannot be expressed on %s" % caps.engine, block.head.name)
        if isinstance(block, Foreach) and block.num_parallel and not caps.parallel:
            raise PlanError("num_parallel is not supported on %s" % caps.engine, block.head.name)
