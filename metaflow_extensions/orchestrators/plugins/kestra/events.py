"""Publishing Metaflow events on Kestra: ``@trigger(event=NAME)`` compiles to a Webhook
trigger whose key is derived from (namespace, flow id, event name), so a publisher finds
every listening flow by recomputing the key, with no registry to keep in sync."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple

from .client import KestraClient
from .compiler import KestraTarget, webhook_key

WEBHOOK = "io.kestra.plugin.core.trigger.Webhook"


def publish(client: KestraClient, namespace: str, event: str, payload: Dict[str, Any]) -> List[Tuple[str, str]]:
    """Fire ``event`` with ``payload`` at every flow of ``namespace`` listening for it;
    returns (flow id, execution id) for each run started."""
    secret = os.environ.get("KESTRA_WEBHOOK_SECRET") or None
    started = []
    for flow in client.list_flows(namespace):
        key = webhook_key(KestraTarget(namespace=namespace, flow_id=flow["id"], webhook_secret=secret), event)
        if any(t.get("type") == WEBHOOK and t.get("key") == key for t in flow.get("triggers") or []):
            execution = client.webhook(namespace, flow["id"], key, payload) or {}
            started.append((flow["id"], execution.get("id", "")))
    return started


def send_event(event: str, payload: Dict[str, Any], namespace: str = None, **connection: Any) -> List[Tuple[str, str]]:
    """Python helper: ``send_event("data_ready", {"dataset": "s3://..."})``; connection
    settings as for the CLI (``host=``, ``user=``, ``password=``, ``token=``, ``tenant=``),
    defaulting to KESTRA_* settings."""
    from .deployment import connection as make_connection

    conn = make_connection(namespace=namespace, **connection)
    with conn.client() as client:
        return publish(client, conn.namespace, event, payload)
