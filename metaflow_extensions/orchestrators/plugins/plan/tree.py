"""Metaflow ``FlowGraph`` -> the nested ``Sequence`` of blocks.

The walk follows Metaflow's own structure (``matching_join`` for splits and foreaches,
``switch_cases`` for switches, ``start_step``/``end_step``) instead of an ad-hoc visited
set, and checks at the end that every step was placed exactly once: a step is never
dropped or duplicated silently.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Dict, List, Optional, Set, Tuple

from .errors import PlanError
from .model import (
    Block,
    Case,
    Foreach,
    InputRule,
    Sequence,
    Split,
    StepTask,
    Switch,
    Tail,
    iter_steps,
)

# (node, input rule, foreach depth, recursive) -> the resolved task for that node
TaskFactory = Callable[[object, InputRule, int, bool], StepTask]


def build_tree(graph, make_task: TaskFactory) -> Sequence:
    walker = _Walker(graph, make_task)
    root = walker.sequence(graph.start_step, None, InputRule("params"), 0)
    _check_every_step_once(graph, root)
    return root


def sequence_tail(seq: Sequence, default: Optional[Tail]) -> Optional[Tail]:
    """The tail of a sequence: what a step right after it reads as its input."""
    if not seq.blocks:
        return default
    last = seq.blocks[-1]
    if isinstance(last, StepTask):
        return Tail(last.name)
    if isinstance(last, Switch):
        return switch_tail(last)
    # A split or foreach is always followed by its own join in the same sequence.
    raise AssertionError("sequence ends inside a split: %r" % (last,))


def switch_tail(block: Switch) -> Tail:
    head = block.head
    cases = tuple(
        (case.target, sequence_tail(case.body, None))
        for case in block.cases
        if not case.loops_back
    )
    return Tail(head.name, switch=True, cases=cases, recursive=head.recursive)


class _Walker:
    def __init__(self, graph, make_task: TaskFactory):
        self.graph = graph
        self.make_task = make_task
        self.rank = _longest_path_rank(graph)

    def sequence(self, start: str, stop: Optional[str], entry: InputRule, depth: int) -> Sequence:
        blocks: List[Block] = []
        name: Optional[str] = start
        rule = entry
        while name is not None and name != stop:
            if len(blocks) > len(self.graph.nodes):
                raise PlanError("the graph loops outside a recursive switch", name)
            block, name, rule = self.block(self.graph[name], rule, depth, stop)
            blocks.append(block)
        if name != stop:
            raise PlanError("the flow ends before reaching *%s*" % stop, start)
        return Sequence(tuple(blocks))

    def block(self, node, rule: InputRule, depth: int, stop: Optional[str]) -> Tuple[Block, Optional[str], InputRule]:
        if node.type == "split":
            return self.split(node, rule, depth)
        if node.type == "foreach":
            return self.foreach(node, rule, depth)
        if node.type == "split-switch":
            return self.switch(node, rule, depth, stop)
        task = self.make_task(node, rule, depth, False)
        following = node.out_funcs[0] if node.out_funcs else None
        return task, following, InputRule("linear", (Tail(node.name),))

    def split(self, node, rule: InputRule, depth: int):
        head = self.make_task(node, rule, depth, False)
        join = self._matching_join(node)
        entry = InputRule("linear", (Tail(head.name),))
        branches = tuple(self.sequence(b, join, entry, depth) for b in node.out_funcs)
        tails = tuple(sequence_tail(b, Tail(head.name)) for b in branches)
        return Split(head, branches, join), join, InputRule("join", tails)

    def foreach(self, node, rule: InputRule, depth: int):
        head = self.make_task(node, rule, depth, False)
        join = self._matching_join(node)
        if len(node.out_funcs) != 1:
            raise PlanError("a foreach must have exactly one transition", node.name)
        body = self.sequence(node.out_funcs[0], join, InputRule("foreach", (Tail(head.name),)), depth + 1)
        tail = sequence_tail(body, None)
        if tail is None:
            raise PlanError("the foreach goes straight to its join", node.name)
        block = Foreach(head, body, join, node.foreach_param, node.num_parallel or None)
        return block, join, InputRule("foreach-join", (tail,))

    def switch(self, node, rule: InputRule, depth: int, stop: Optional[str]):
        recursive = node.name in node.out_funcs
        head = self.make_task(node, rule, depth, recursive)
        exits = _unique(t for t in node.switch_cases.values() if t != node.name)
        if not exits:
            raise PlanError("every case of the switch loops back: the flow can never end", node.name)
        merge = self._convergence(node.name, exits, stop)
        entry = InputRule("linear", (Tail(head.name, recursive=recursive),))
        cases = []
        for target in _unique(node.switch_cases.values()):
            keys = tuple(str(k) for k, t in node.switch_cases.items() if t == target)
            if target == node.name:
                cases.append(Case(target, keys, Sequence(()), loops_back=True))
            else:
                cases.append(Case(target, keys, self.sequence(target, merge, entry, depth)))
        block = Switch(head, node.condition, tuple(cases), merge)
        return block, merge, InputRule("linear", (switch_tail(block),))

    def _matching_join(self, node) -> str:
        if not node.matching_join:
            raise PlanError("the %s has no matching join" % node.type, node.name)
        return node.matching_join

    def _convergence(self, step: str, targets: List[str], stop: Optional[str]) -> str:
        """The first step every case reaches (Argo's conditional-join rule)."""
        if len(targets) == 1:
            return targets[0]
        common = set.intersection(*(self._reachable(t, step) for t in targets))
        if not common:
            raise PlanError("the cases of the switch never converge", step)
        merge = min(common, key=lambda n: (self.rank[n], n))
        if stop is not None and self.rank[merge] > self.rank[stop]:
            raise PlanError("the cases of the switch leave the enclosing split or foreach", step)
        return merge

    def _reachable(self, start: str, switch_step: str) -> Set[str]:
        seen: Set[str] = set()
        todo = [start]
        while todo:
            name = todo.pop()
            if name in seen or name == switch_step:
                continue
            seen.add(name)
            todo.extend(self.graph[name].out_funcs)
        return seen


def _unique(items) -> List[str]:
    return list(dict.fromkeys(items))


def _longest_path_rank(graph) -> Dict[str, int]:
    """Longest distance from the start step, ignoring self loops (recursive switches)."""
    rank: Dict[str, int] = {graph.start_step: 0}
    order = [graph.start_step]
    indegree = Counter()
    for node in graph:
        for child in set(node.out_funcs) - {node.name}:
            indegree[child] += 1
    i = 0
    while i < len(order):
        node = graph[order[i]]
        i += 1
        for child in _unique(c for c in node.out_funcs if c != node.name):
            rank[child] = max(rank.get(child, 0), rank[node.name] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                order.append(child)
    return rank


def _check_every_step_once(graph, root: Sequence) -> None:
    placed = Counter(task.name for task in iter_steps(root))
    twice = sorted(n for n, c in placed.items() if c > 1)
    if twice:
        raise PlanError("placed more than once in the plan (unsupported shape)", twice[0])
    missing = sorted(n.name for n in graph if n.name not in placed)
    if missing:
        raise PlanError("not reachable in the plan (unsupported shape)", missing[0])
