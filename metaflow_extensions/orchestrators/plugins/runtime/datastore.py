"""The Metaflow datastore a task's own options name (``--datastore``, ``--datastore-root``),
opened the way Metaflow opens it. Used around the step process: to save its logs and, in a
resumed run, to find the tasks the run's init cloned. Metaflow is imported only when asked."""
from __future__ import annotations

from typing import Optional, Sequence

from .launcher import top_option


def flow_datastore(flow_name: str, top: Sequence[str]):
    """``FlowDataStore`` of ``flow_name`` in the datastore named by the spec's top-level options
    (Metaflow's configured default and root when they name none)."""
    return open_flow_datastore(flow_name, top_option(top, "datastore"), top_option(top, "datastore-root"))


def open_flow_datastore(flow_name: str, kind: Optional[str], root: Optional[str]):
    from metaflow.datastore import FlowDataStore
    from metaflow.metaflow_config import DEFAULT_DATASTORE
    from metaflow.plugins import DATASTORES

    kind = kind or DEFAULT_DATASTORE
    impls = [d for d in DATASTORES if d.TYPE == kind]
    if not impls:
        raise ValueError("unknown datastore %r" % kind)
    root = root or impls[0].get_datastore_root_from_config(lambda *a, **k: None)
    return FlowDataStore(flow_name, None, storage_impl=impls[0], ds_root=root)
