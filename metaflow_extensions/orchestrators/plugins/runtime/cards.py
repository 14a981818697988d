"""``@card`` files of an engine task, where ``card get`` and ``task.cards`` look for them.

On a local datastore Metaflow finds the card root by looking for ``.metaflow`` upwards from the
working directory (``CardDatastore.get_storage_root``); on an engine worker that is the task's
own directory, so cards landed in a ``.metaflow`` nobody reads. The deploying side pins the
root (``METAFLOW_CARD_LOCALROOT``, engine.card_env). Metaflow 2.19 returns no root when that
setting is given and its card command then writes under the *datastore* root instead: this
moves the task's cards from there to the pinned root, and does nothing once Metaflow writes to
the pinned root itself.
"""
from __future__ import annotations

import os
import shutil

from .task_logs import TaskAddress

SUBDIRS = ("cards", "runtime")  # metaflow.plugins.cards.card_datastore.CardPathSuffix


def task_card_dir(root: str, address: TaskAddress) -> str:
    """``CardDatastore._make_path(..., with_steps=True)`` of one task."""
    return os.path.join(root, address.flow_name, "runs", address.run_id, "steps", address.step,
                        "tasks", address.task_id)


def relocate_cards(address: TaskAddress, card_root: str) -> None:
    if (address.datastore or "local") != "local" or not address.datastore_root or not card_root:
        return
    source = task_card_dir(address.datastore_root, address)
    target = task_card_dir(card_root, address)
    if os.path.realpath(source) == os.path.realpath(target) or not os.path.isdir(source):
        return
    for sub in SUBDIRS:
        here = os.path.join(source, sub)
        if not os.path.isdir(here):
            continue
        there = os.path.join(target, sub)
        os.makedirs(there, exist_ok=True)
        for name in os.listdir(here):
            shutil.move(os.path.join(here, name), os.path.join(there, name))
    shutil.rmtree(source, ignore_errors=True)
    _prune(os.path.dirname(source), os.path.join(address.datastore_root, address.flow_name))


def _prune(path: str, stop: str) -> None:
    """Remove the emptied ``runs/<run>/steps/...`` directories up to the flow's."""
    while os.path.realpath(path).startswith(os.path.realpath(stop)) and os.path.realpath(path) != os.path.realpath(stop):
        try:
            os.rmdir(path)
        except OSError:
            return
        path = os.path.dirname(path)
