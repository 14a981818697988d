"""Questions back ends ask of the plan tree: which step a branch starts with, which
switch steps a task's inputs depend on. Engine-neutral: every back end that passes a
switch's choice on to later tasks needs the same answers."""
from __future__ import annotations

from typing import List, Optional, Tuple

from .errors import PlanError
from .model import Plan, Sequence, Split, Switch, Tail
from .visit import head_of


def first_step(seq: Sequence) -> str:
    """The step a (non-empty) sequence starts with."""
    return head_of(seq.blocks[0]).name


def all_tails(tails) -> List[Tail]:
    """The tails and, depth first, every tail of their switch cases."""
    out: List[Tail] = []
    for tail in tails:
        if tail is None:
            continue
        out.append(tail)
        out += all_tails([t for _, t in tail.cases])
    return out


def tail_heads(tail: Optional[Tail], sure: bool) -> List[Tuple[str, bool]]:
    """The switch steps a tail passes through, each with whether it surely ran (a switch
    reached through another switch's case may not have)."""
    if tail is None or not tail.switch:
        return []
    heads = [(tail.step, sure)]
    for _, case_tail in tail.cases:
        heads += tail_heads(case_tail, False)
    return heads


def input_switch_heads(tails) -> List[Tuple[str, bool]]:
    """(switch step, surely ran) for every switch on a task's input tails."""
    heads: List[Tuple[str, bool]] = []
    for tail in tails:
        heads += tail_heads(tail, True)
    return heads


def recursive_input_heads(tails) -> List[str]:
    """The recursive switch steps on a task's input tails (their final pass counts)."""
    return [t.step for t in all_tails(tails) if t.recursive]


def switch_heads_at_scope(body: Sequence, recursive_only: bool = False) -> List[str]:
    """Switch steps in a foreach body outside any nested foreach (the join's tails)."""
    heads: List[str] = []
    for block in body:
        if isinstance(block, Switch):
            if block.head.recursive or not recursive_only:
                heads.append(block.head.name)
            for case in block.cases:
                heads += switch_heads_at_scope(case.body, recursive_only)
        elif isinstance(block, Split):
            for branch in block.branches:
                heads += switch_heads_at_scope(branch, recursive_only)
    return heads


def require_defaults(plan: Plan, what: str) -> None:
    """Refuse a trigger that starts runs without parameter values (a schedule, an event,
    another flow) when a required parameter has no default: every run it starts would
    fail on the missing value. Argo refuses the same at deploy time."""
    missing = [p.name for p in plan.parameters if p.required and p.default is None]
    if missing:
        raise PlanError("%s starts runs without parameter values, but %s is required and has no "
                        "default: give it a default" % (what, ", ".join(missing)))
