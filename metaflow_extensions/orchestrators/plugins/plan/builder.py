"""``build_plan(flow, graph) -> Plan``: the one entry point of the plan package."""
from __future__ import annotations

import os
from typing import Iterable, Optional

from . import flow_facts
from .model import Plan
from .steps import make_task
from .tree import build_tree


def build_plan(
    flow,
    graph,
    *,
    flow_file: Optional[str] = None,
    environment_type: str = "local",
    tags: Iterable[str] = (),
) -> Plan:
    """Resolve a Metaflow flow (as initialised by Metaflow's CLI) into a frozen Plan."""
    project = flow_facts.project(flow)
    return Plan(
        flow_name=flow.name,
        flow_file=flow_file or os.path.basename(_flow_file(flow)),
        start_step=graph.start_step,
        end_step=graph.end_step,
        root=build_tree(graph, make_task),
        parameters=flow_facts.parameters(flow),
        configs=flow_facts.configs(flow),
        schedule=flow_facts.schedule(flow),
        event_triggers=flow_facts.event_triggers(flow),
        flow_triggers=flow_facts.flow_triggers(flow, project),
        project=project,
        environment_type=environment_type,
        tags=tuple(tags),
        doc=(flow.__doc__ or "").strip() or None,
    )


def _flow_file(flow) -> str:
    import inspect

    return inspect.getfile(flow.__class__)
