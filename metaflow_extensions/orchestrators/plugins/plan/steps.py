"""Step decorators -> the plain fields of a ``StepTask``.

Uses the hooks Metaflow's own schedulers use (``step_task_retry_count``,
``get_run_time_limit_for_task``, ``make_decorator_spec``) so that @retry, @catch and
@timeout mean exactly what they mean under ``python flow.py run``.
"""
from __future__ import annotations

from typing import Iterable, Optional, Tuple

from .model import InputRule, NodeKind, Resources, Retry, StepTask

# Decorators that only work by rewriting the step command (``runtime_step_cli``);
# forwarded with --with they would silently run the step on the engine's worker.
COMPUTE_DECORATORS = frozenset({"kubernetes", "batch", "slurm"})

# Our own internal decorator is added by the launcher, never forwarded twice.
INTERNAL_DECORATOR = "orchestrators_internal"


def make_task(node, rule: InputRule, depth: int, recursive: bool) -> StepTask:
    decos = list(node.decorators)
    return StepTask(
        name=node.name,
        kind=NodeKind(node.type),
        inputs=rule,
        foreach_depth=depth,
        retry=_retry(decos),
        catch=any(d.name == "catch" for d in decos),
        timeout_seconds=_timeout(decos),
        resources=_resources(decos),
        environment=_environment(decos),
        decospecs=_decospecs(decos),
        compute=next((d.name for d in decos if d.name in COMPUTE_DECORATORS), None),
        parallel=bool(getattr(node, "parallel_step", False)) or any(d.name == "parallel" for d in decos),
        recursive=recursive,
        doc=(node.doc or None),
    )


def _retry(decos) -> Retry:
    """Metaflow's formula: user retries from @retry, error retries from @catch."""
    user = max([d.step_task_retry_count()[0] for d in decos] or [0])
    errors = max([d.step_task_retry_count()[1] for d in decos] or [0])
    minutes = 0.0
    for d in decos:
        if d.name == "retry":
            minutes = float(d.attributes.get("minutes_between_retries") or 0)
    return Retry(int(user), int(errors), minutes)


def _timeout(decos) -> Optional[int]:
    """Only an explicit @timeout becomes an engine limit (else every task gets 5 days)."""
    if not any(d.name == "timeout" for d in decos):
        return None
    from metaflow.plugins.timeout_decorator import get_run_time_limit_for_task

    return int(get_run_time_limit_for_task(decos))


def _resources(decos) -> Optional[Resources]:
    for d in decos:
        if d.name == "resources":
            a = d.attributes
            return Resources(
                cpu=_number(a.get("cpu"), float),
                memory_mb=_number(a.get("memory"), int),
                gpu=_number(a.get("gpu"), int),
                disk_mb=_number(a.get("disk"), int),
            )
    return None


def _number(value, kind):
    if value is None or value == "":
        return None
    return kind(float(value))


def _environment(decos) -> Tuple[Tuple[str, str], ...]:
    """@environment vars, already resolved (config_expr included) at this point.

    Metaflow applies them only in the local runtime, so an orchestrator must inject them.
    """
    env = {}
    for d in decos:
        if d.name == "environment":
            env.update({str(k): str(v) for k, v in (d.attributes.get("vars") or {}).items()})
    return tuple(sorted(env.items()))


def _decospecs(decos: Iterable) -> Tuple[str, ...]:
    """Only decorators the flow file does not re-create itself (``--with`` at deploy time,
    environment or default decospecs); forwarding static ones would attach them to every
    step of the process (e.g. @catch on a foreach step)."""
    specs = []
    for d in decos:
        if d.statically_defined or getattr(d, "inserted_by", None) is not None:
            continue
        if d.name == INTERNAL_DECORATOR:
            continue
        specs.append(d.make_decorator_spec())
    return tuple(specs)
