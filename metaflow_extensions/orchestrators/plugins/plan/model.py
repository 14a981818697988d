"""The typed, engine-neutral plan of a Metaflow flow.

One frozen tree that both engine back ends read: a ``Sequence`` of blocks, where a block
is a ``StepTask``, a ``Split`` (static branches + join), a ``Foreach`` (body + join) or a
``Switch`` (cases; the merge step is the next block of the enclosing sequence). Engines
are nested languages, so each back end is a small recursive function over this tree.

Every decorator is resolved here once into plain fields so no back end ever touches a
Metaflow decorator object. Nothing in this module knows about Kestra or Windmill.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional, Tuple, Union


class ParamType(str, enum.Enum):
    INT = "INT"
    FLOAT = "FLOAT"
    BOOL = "BOOL"
    STRING = "STRING"
    JSON = "JSON"


class NodeKind(str, enum.Enum):
    """Metaflow's own node types (``DAGNode.type``), kept verbatim."""

    START = "start"
    LINEAR = "linear"
    JOIN = "join"
    SPLIT = "split"
    FOREACH = "foreach"
    SWITCH = "split-switch"
    END = "end"


@dataclass(frozen=True)
class Parameter:
    name: str  # as on the command line (``--<name>``), may contain "-"
    python_name: str  # the flow attribute
    type: ParamType
    default: Any  # JSON-able; None when absent
    required: bool
    help: Optional[str] = None

    @property
    def env_var(self) -> str:
        """The variable ``metaflow init`` reads through click's auto env var prefix."""
        return "METAFLOW_INIT_" + self.name.upper().replace("-", "_")


@dataclass(frozen=True)
class Retry:
    """``@retry``/``@catch`` folded the way Metaflow's own schedulers fold them."""

    user_code_retries: int = 0
    error_retries: int = 0
    minutes_between: float = 0.0

    @property
    def total_retries(self) -> int:
        return self.user_code_retries + self.error_retries

    @property
    def total_attempts(self) -> int:
        return self.total_retries + 1


@dataclass(frozen=True)
class Resources:
    cpu: Optional[float] = None
    memory_mb: Optional[int] = None
    gpu: Optional[int] = None
    disk_mb: Optional[int] = None


@dataclass(frozen=True)
class InputRule:
    """How a task finds its ``--input-paths``; resolved at run time by the launcher.

    kind:
      params   -- the start step: ``<run>/_parameters/<params task>``
      linear   -- the tail of ``tails[0]`` at the same foreach index path
      foreach  -- first step of a foreach body: ``tails[0]`` one index level up,
                  ``--split-index`` = the last index
      join     -- static join: every tail at the same index path
      foreach-join -- the body tail at every index ``path + (i,)`` for i < width
    A recursive switch step additionally reads its own previous iteration
    (``StepTask.recursive``).
    """

    kind: str
    tails: Tuple["Tail", ...] = ()


@dataclass(frozen=True)
class Tail:
    """Where a block ends: a step, or whichever case of a switch ran.

    ``switch`` set: the tail is decided at run time by the branch the switch step
    reported; ``cases`` maps each case's target step to that case's own tail (``None``
    when the case jumps straight to the merge, so the switch step itself is the tail).
    """

    step: str
    switch: bool = False
    cases: Tuple[Tuple[str, Optional["Tail"]], ...] = ()
    recursive: bool = False  # the step is a recursive switch: read its final iteration


@dataclass(frozen=True)
class StepTask:
    name: str
    kind: NodeKind
    inputs: InputRule
    foreach_depth: int = 0  # how many foreach levels enclose this step
    retry: Retry = Retry()
    catch: bool = False
    timeout_seconds: Optional[int] = None
    resources: Optional[Resources] = None
    environment: Tuple[Tuple[str, str], ...] = ()
    decospecs: Tuple[str, ...] = ()  # non-static decorators to forward with --with
    compute: Optional[str] = None  # @kubernetes / @batch / ... if present
    parallel: bool = False  # @parallel step (num_parallel)
    recursive: bool = False  # a switch step with a case pointing back to itself
    doc: Optional[str] = None


@dataclass(frozen=True)
class Sequence:
    blocks: Tuple["Block", ...]

    def __iter__(self) -> Iterator["Block"]:
        return iter(self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)


@dataclass(frozen=True)
class Split:
    """A static split. Its join is the next block of the enclosing sequence (a join can
    itself split again, so it is not folded in here)."""

    head: StepTask
    branches: Tuple[Sequence, ...]
    join: str


@dataclass(frozen=True)
class Foreach:
    head: StepTask
    body: Sequence
    join: str  # next block of the enclosing sequence, like Split.join
    foreach_var: Optional[str] = None
    num_parallel: Optional[int] = None  # set for ``self.next(x, num_parallel=N)``


@dataclass(frozen=True)
class Case:
    target: str  # the step it jumps to
    keys: Tuple[str, ...]  # the values of the condition artifact that select it
    body: Sequence  # empty when the case jumps straight to the merge (or loops back)
    loops_back: bool = False  # the case re-runs the switch step (recursive switch)


@dataclass(frozen=True)
class Switch:
    head: StepTask
    condition: str
    cases: Tuple[Case, ...]
    merge: str  # where the cases converge: the next block, or the enclosing join


Block = Union[StepTask, Split, Foreach, Switch]


@dataclass(frozen=True)
class Schedule:
    """Normalised to a 5-field cron (minute hour day-of-month month day-of-week)."""

    cron: str
    timezone: Optional[str] = None
    source: str = ""  # what the user wrote, for messages


@dataclass(frozen=True)
class EventTrigger:
    name: str
    parameters: Tuple[Tuple[str, str], ...] = ()  # flow parameter <- event field


@dataclass(frozen=True)
class FlowTrigger:
    flow: str  # upstream flow class name
    deployed_name: str  # the upstream deployment name, project-aware
    project: Optional[str] = None
    branch: Optional[str] = None


@dataclass(frozen=True)
class Project:
    name: str
    branch: str  # e.g. "user.alice", "test.feat", "prod"
    production: bool
    flow_name: str  # <project>.<branch>.<Flow>
    raw_branch: Optional[str] = None  # what --branch got (forwarded to every task)


@dataclass(frozen=True)
class Plan:
    flow_name: str
    flow_file: str  # file name of the flow, relative to the code root
    start_step: str
    end_step: str
    root: Sequence
    parameters: Tuple[Parameter, ...] = ()
    configs: Tuple[Tuple[str, str], ...] = ()  # config name -> JSON value text
    schedule: Optional[Schedule] = None
    event_triggers: Tuple[EventTrigger, ...] = ()
    flow_triggers: Tuple[FlowTrigger, ...] = ()
    project: Optional[Project] = None
    environment_type: str = "local"  # local / conda / pypi
    tags: Tuple[str, ...] = ()
    doc: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def steps(self) -> Iterator[StepTask]:
        """Every step exactly once, in plan (topological) order."""
        return iter_steps(self.root)

    def step(self, name: str) -> StepTask:
        for task in self.steps():
            if task.name == name:
                return task
        raise KeyError(name)


def iter_blocks(seq: Sequence) -> Iterator[Block]:
    """Every block at every depth, each before the blocks nested in it (plan order)."""
    from .visit import walk

    return walk(seq)


def iter_steps(seq: Sequence) -> Iterator[StepTask]:
    """Every step exactly once, in plan (topological) order."""
    from .visit import head_of

    return (head_of(block) for block in iter_blocks(seq))
