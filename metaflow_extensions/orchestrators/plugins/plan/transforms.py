"""Plan -> plan changes that command options ask for, the same on every engine."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Optional

from .model import Plan, Project, StepTask
from .visit import map_steps


def with_branch(plan: Plan, branch: Optional[str], production: bool) -> Plan:
    """Apply ``--branch``/``--production`` given to the command (rather than before it):
    the same naming rule as Metaflow's @project."""
    if plan.project is None or (not branch and not production):
        return plan
    from metaflow.util import get_username

    if production:
        name = "prod" if not branch else "prod.%s" % branch
    elif branch:
        name = "test.%s" % branch
    else:
        name = "user.%s" % get_username()
    proj = plan.project
    project = Project(name=proj.name, branch=name, production=production,
                      flow_name="%s.%s.%s" % (proj.name, name, plan.flow_name), raw_branch=branch)
    return replace(plan, project=project)


def add_decospecs(plan: Plan, decospecs: Optional[Iterable[str]]) -> Plan:
    """``--with`` given to the command: forwarded to every step, as ``run --with`` does."""
    extra = tuple(decospecs or ())
    if not extra:
        return plan

    def task(t: StepTask) -> StepTask:
        return replace(t, decospecs=tuple(t.decospecs) + extra)

    return replace(plan, root=map_steps(plan.root, task))
