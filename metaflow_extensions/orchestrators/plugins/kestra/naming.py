"""Kestra identifiers for Metaflow names (kestra.md §2.4): whole-string regexes, checked
here so a bad name fails at compile time with the rule, not at deploy time."""
from __future__ import annotations

import hashlib
import re

from ..plan import PlanError

_TASK_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
_FLOW_ID_BAD = re.compile(r"[^a-zA-Z0-9._-]")
_NAMESPACE = re.compile(r"[a-z0-9][a-z0-9._-]*")
RESERVED_FLOW_IDS = frozenset({"text", "pause", "resume", "force-run", "change-status", "kill", "executions",
                               "search", "source", "disable", "enable"})


def check_task_id(step: str) -> None:
    if not _TASK_ID.fullmatch(step):
        raise PlanError("Kestra task ids must match [a-zA-Z0-9][a-zA-Z0-9_-]*; rename the step", step)


def flow_id(deployed_name: str) -> str:
    """``proj.test.b.MyFlow`` stays as is. A name Kestra cannot take as it is keeps its safe
    characters plus a hash of the whole, as does one over 100 characters: two different
    names never become one id (one would silently replace the other's deployment)."""
    text = _FLOW_ID_BAD.sub("-", deployed_name).lstrip("._-") or "flow"
    changed = text != deployed_name
    if text.lower() in RESERVED_FLOW_IDS:
        text = "metaflow-" + text
    digest = hashlib.sha1(deployed_name.encode("utf-8")).hexdigest()[:12]
    if len(text) > 100:
        text = text[:87] + "-" + digest
    elif changed:
        text = text[:87] + "-" + digest
    return text


def check_flow_name(name: str) -> str:
    """A ``--name`` given by the user is the flow id itself: refused, with the rule, when
    Kestra would need it changed."""
    if (_FLOW_ID_BAD.search(name) or not name or name[0] in "._-" or len(name) > 100
            or name.lower() in RESERVED_FLOW_IDS):
        raise ValueError("--name %r is not a Kestra flow id: use up to 100 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit (not one of %s)" % (name, ", ".join(sorted(RESERVED_FLOW_IDS))))
    return name


def check_namespace(namespace: str) -> str:
    if not _NAMESPACE.fullmatch(namespace or "") or len(namespace) > 150:
        raise ValueError("Kestra namespace %r must be lowercase and match [a-z0-9][a-z0-9._-]*" % namespace)
    return namespace
