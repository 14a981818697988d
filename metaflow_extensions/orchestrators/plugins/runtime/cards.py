"""``@card`` files of an engine task, where ``card get`` and ``task.cards`` look for them.

On a local datastore the Metaflow client reads a task's cards under its ``ds-root`` metadata
plus ``mf.cards`` (``card_client._get_flow_datastore``), while the card command that writes
them looks for ``.metaflow`` upwards from the working directory
(``CardDatastore.get_storage_root``) — on an engine worker the task's own directory, so
cards landed in a ``.metaflow`` nobody reads. The task's directory gets a ``.metaflow`` link
to the datastore root, before the step starts: every card, rendered at any moment by any
card process, is written where it is read. (``METAFLOW_CARD_LOCALROOT`` cannot do this:
Metaflow 2.19's ``get_storage_root`` returns no root at all when it is set.)
"""
from __future__ import annotations

import os

from .task_logs import TaskAddress

LOCAL_DIR = ".metaflow"  # metaflow_config.DATASTORE_LOCAL_DIR


def link_datastore(address: TaskAddress, workdir: str = ".") -> None:
    if (address.datastore or "local") != "local" or not address.datastore_root:
        return
    link = os.path.join(workdir, LOCAL_DIR)
    if os.path.lexists(link):
        return  # the user's own (a task run from the flow's directory): Metaflow's rules apply
    try:
        os.symlink(address.datastore_root, link, target_is_directory=True)
    except OSError:
        pass  # a read-only working directory: cards stay where Metaflow puts them
