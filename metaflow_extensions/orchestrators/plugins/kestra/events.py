"""Publishing Metaflow events on Kestra: ``@trigger(event=NAME)`` compiles to a Webhook
trigger named for its event (its ``description``). Kestra webhook URLs are open, so the key
is the only secret: ``create`` draws a random one (kept across re-deploys, read back from the
deployed flow) unless KESTRA_WEBHOOK_SECRET keys it; a publisher, with credentials, reads the
keys of the listening flows — no registry to keep in sync."""
from __future__ import annotations

import os
import secrets
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .client import KestraClient
from .compiler import KestraTarget, event_description, webhook_key

WEBHOOK = "io.kestra.plugin.core.trigger.Webhook"


def publish(client: KestraClient, namespace: str, event: str, payload: Dict[str, Any]) -> List[Tuple[str, str]]:
    """Fire ``event`` with ``payload`` at every flow of ``namespace`` listening for it;
    returns (flow id, execution id) for each run started."""
    secret = os.environ.get("KESTRA_WEBHOOK_SECRET") or None
    started = []
    for flow in client.list_flows(namespace):
        derived = webhook_key(KestraTarget(namespace=namespace, flow_id=flow["id"], webhook_secret=secret), event)
        for trigger in flow.get("triggers") or []:
            # Named for the event (random key), or an older deployment's derived key.
            if trigger.get("type") == WEBHOOK and (trigger.get("description") == event_description(event)
                                                    or trigger.get("key") == derived):
                execution = client.webhook(namespace, flow["id"], trigger["key"], payload) or {}
                started.append((flow["id"], execution.get("id", "")))
                break
    return started


def deploy_keys(plan, existing: Optional[Mapping[str, Any]]) -> Tuple[Tuple[str, str], ...]:
    """Without KESTRA_WEBHOOK_SECRET, each event's key is random: the one the deployed flow
    already has for it (re-deploying keeps publishers' URLs valid), else a new one."""
    if os.environ.get("KESTRA_WEBHOOK_SECRET") or not plan.event_triggers:
        return ()
    kept = {t.get("description"): t.get("key") for t in (existing or {}).get("triggers") or []
            if t.get("type") == WEBHOOK and t.get("key")}
    return tuple((e.name, kept.get(event_description(e.name)) or "mf-" + secrets.token_hex(20))
                 for e in plan.event_triggers)


def send_event(event: str, payload: Dict[str, Any], namespace: str = None, **connection: Any) -> List[Tuple[str, str]]:
    """Python helper: ``send_event("data_ready", {"dataset": "s3://..."})``; connection
    settings as for the CLI (``host=``, ``user=``, ``password=``, ``token=``, ``tenant=``),
    defaulting to KESTRA_* settings."""
    from .deployment import connection as make_connection

    conn = make_connection(namespace=namespace, **connection)
    with conn.client() as client:
        return publish(client, conn.namespace, event, payload)
