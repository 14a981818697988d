"""One dispatch over the four kinds of plan block.

Every back end, query and transform walks the same tree; the type test lives here once,
so a fifth kind of block is one edit, not six.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Generic, Iterator, Tuple, TypeVar

from .model import Block, Foreach, Sequence, Split, StepTask, Switch

T = TypeVar("T")


class BlockVisitor(Generic[T]):
    """Subclass and implement the four methods; ``visit`` picks the one for a block."""

    def visit(self, block: Block) -> T:
        if isinstance(block, StepTask):
            return self.step(block)
        if isinstance(block, Split):
            return self.split(block)
        if isinstance(block, Foreach):
            return self.foreach(block)
        if isinstance(block, Switch):
            return self.switch(block)
        raise TypeError("not a plan block: %r" % (block,))

    def step(self, block: StepTask) -> T:
        raise NotImplementedError

    def split(self, block: Split) -> T:
        raise NotImplementedError

    def foreach(self, block: Foreach) -> T:
        raise NotImplementedError

    def switch(self, block: Switch) -> T:
        raise NotImplementedError


def head_of(block: Block) -> StepTask:
    """The step a block starts with (a step is its own head)."""
    return block if isinstance(block, StepTask) else block.head


def nested(block: Block) -> Tuple[Sequence, ...]:
    """The sequences directly inside a block, in plan order (case bodies included)."""
    if isinstance(block, Split):
        return tuple(block.branches)
    if isinstance(block, Foreach):
        return (block.body,)
    if isinstance(block, Switch):
        return tuple(case.body for case in block.cases)
    return ()


def walk(seq: Sequence) -> Iterator[Block]:
    """Every block at every depth, each before the blocks nested in it (plan order)."""
    for block in seq:
        yield block
        for inner in nested(block):
            yield from walk(inner)


class _StepMapper(BlockVisitor[Block]):
    def __init__(self, fn: Callable[[StepTask], StepTask]):
        self.fn = fn

    def sequence(self, seq: Sequence) -> Sequence:
        return Sequence(tuple(self.visit(b) for b in seq))

    def step(self, block: StepTask) -> StepTask:
        return self.fn(block)

    def split(self, block: Split) -> Split:
        return replace(block, head=self.fn(block.head), branches=tuple(self.sequence(b) for b in block.branches))

    def foreach(self, block: Foreach) -> Foreach:
        return replace(block, head=self.fn(block.head), body=self.sequence(block.body))

    def switch(self, block: Switch) -> Switch:
        return replace(block, head=self.fn(block.head),
                       cases=tuple(replace(c, body=self.sequence(c.body)) for c in block.cases))


def map_steps(seq: Sequence, fn: Callable[[StepTask], StepTask]) -> Sequence:
    """The same tree with every step replaced by ``fn(step)``."""
    return _StepMapper(fn).sequence(seq)
