"""Metaflow FlowGraph -> typed, structured, engine-neutral Plan."""
from .builder import build_plan
from .errors import PlanError
from .support import Capabilities, require_supported
from .model import (
    Case,
    EventTrigger,
    FlowTrigger,
    Foreach,
    InputRule,
    NodeKind,
    Parameter,
    ParamType,
    Plan,
    Project,
    Resources,
    Retry,
    Schedule,
    Sequence,
    Split,
    StepTask,
    Switch,
    Tail,
    iter_blocks,
    iter_steps,
)

__all__ = [
    "build_plan", "PlanError", "Capabilities", "require_supported", "Case", "EventTrigger", "FlowTrigger", "Foreach", "InputRule",
    "NodeKind", "Parameter", "ParamType", "Plan", "Project", "Resources", "Retry", "Schedule",
    "Sequence", "Split", "StepTask", "Switch", "Tail", "iter_blocks", "iter_steps",
]
