"""Schedule, Flow and Webhook triggers (kestra.md §10).

- Schedule: cron evaluated on the real clock in the trigger's time zone; one execution per
  tick from the moment the flow is seen (no backfill) with `trigger.date`.
- Flow: evaluated when any execution terminates; 1.x `conditions`/`preconditions`,
  2.x `dependsOn` (+ `when`); `trigger.executionId/namespace/flowId/state/outputs`.
- Webhook: `trigger.body`/`trigger.headers`; 404 for an unknown key.
"""
from __future__ import annotations

import datetime as _dt
import threading
from typing import Any, Dict, List, Optional, Tuple

from croniter import croniter

from . import model as m
from .durations import parse_duration
from .engine import Conflict, Engine, NotFound
from .inputs import InputError
from .parser import label_items
from .pebble import PebbleError, Renderer, render_data
from .records import Execution, iso

NICKNAMES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
             "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
TERMINAL_DEFAULT = ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"]


def _labels(trigger: Dict[str, Any]) -> List[Dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in label_items(trigger.get("labels"))]


def _fire(engine: Engine, flow: Dict[str, Any], trigger: Dict[str, Any], variables: Dict[str, Any],
          ctx: Optional[Dict[str, Any]] = None) -> Optional[Execution]:
    """Create an execution from a trigger; trigger `inputs` are rendered with `trigger.*` in scope
    (or with ``ctx`` when given)."""
    renderer = Renderer(engine.version)
    if ctx is None:
        ctx = {"trigger": variables, "flow": {"id": flow["id"], "namespace": flow["namespace"]}}
    try:
        inputs = render_data(renderer, trigger.get("inputs") or {}, ctx)
        info = {"id": trigger["id"], "type": trigger["type"], "variables": variables}
        return engine.create_execution(flow["namespace"], flow["id"], inputs, _labels(trigger), info)
    except (PebbleError, InputError, NotFound) as exc:
        return None if isinstance(exc, NotFound) else _failed_trigger(engine, flow, exc)


def _failed_trigger(engine: Engine, flow: Dict[str, Any], exc: Exception) -> None:
    # 2.x: input-rendering failures create a FAILED execution; 1.x drops the event (kestra.md §10.2).
    # The emulator records neither; it logs to stderr so the cause is visible.
    import sys
    print("kestra emulator: trigger of %s.%s failed: %s" % (flow["namespace"], flow["id"], exc), file=sys.stderr)
    return None


# ---- Schedule ----------------------------------------------------------------------
class Scheduler:
    """A single thread firing Schedule triggers; wakes at most once a second (cheap)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.next_fire: Dict[Tuple[str, str, str], _dt.datetime] = {}
        self.tick_lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="kestra-scheduler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        while not self.engine.stopping.wait(1.0):
            self.tick(_dt.datetime.now(_dt.timezone.utc))

    def tick(self, current: _dt.datetime) -> List[Execution]:
        """Fire every Schedule due at ``current``; the first sight of a trigger only arms it."""
        with self.tick_lock:
            return self._tick(current)

    def _tick(self, current: _dt.datetime) -> List[Execution]:
        fired: List[Execution] = []
        with self.engine.lock:
            flows = [r.flow for r in self.engine.flows.values() if not r.flow.get("disabled")]
        live = set()
        for flow in flows:
            for trig in flow.get("triggers") or []:
                if trig.get("type") != m.SCHEDULE or trig.get("disabled"):
                    continue
                key = (flow["namespace"], flow["id"], trig["id"])
                live.add(key)
                exe = self._maybe_fire(key, flow, trig, current)
                if exe is not None:
                    fired.append(exe)
        for key in set(self.next_fire) - live:
            del self.next_fire[key]
        return fired

    def _maybe_fire(self, key: Tuple[str, str, str], flow: Dict[str, Any], trig: Dict[str, Any],
                    current: _dt.datetime) -> Optional[Execution]:
        due = self.next_fire.get(key)
        if due is None:
            self.next_fire[key] = next_date(trig, current)
            return None
        if current < due:
            return None
        self.next_fire[key] = next_date(trig, current)
        variables = {"date": iso(due.astimezone(_dt.timezone.utc)),
                     "next": iso(self.next_fire[key].astimezone(_dt.timezone.utc))}
        return _fire(self.engine, flow, trig, variables)


def next_date(trig: Dict[str, Any], after: _dt.datetime) -> _dt.datetime:
    """Next tick strictly after ``after`` in the trigger's zone (cron-utils UNIX, kestra.md §10.1)."""
    from zoneinfo import ZoneInfo
    cron = NICKNAMES.get(trig["cron"].strip(), trig["cron"])
    zone = ZoneInfo(trig.get("timezone") or "UTC")
    fields = cron.split()
    if trig.get("withSeconds"):
        fields = fields[1:] + fields[:1]  # croniter takes seconds last
    return croniter(" ".join(fields), after.astimezone(zone)).get_next(_dt.datetime)


# ---- Flow trigger ------------------------------------------------------------------
class FlowTriggers:
    """Listens to terminated executions and starts matching downstream flows."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.lock = threading.Lock()
        # (namespace, flow id, trigger id) -> {index of satisfied upstream entry: when}
        self.seen: Dict[Tuple[str, str, str], Dict[int, _dt.datetime]] = {}
        engine.listeners.append(self.on_terminated)

    def on_terminated(self, upstream: Execution) -> None:
        with self.engine.lock:
            flows = [r.flow for r in self.engine.flows.values() if not r.flow.get("disabled")]
        for flow in flows:
            for trig in flow.get("triggers") or []:
                # A flow never triggers itself (avoids the endless loop of a condition-less trigger).
                if trig.get("type") == m.FLOW_TRIGGER and not trig.get("disabled") and \
                        (flow["namespace"], flow["id"]) != (upstream.namespace, upstream.flow_id) and \
                        self.matches((flow["namespace"], flow["id"], trig["id"]), trig, upstream):
                    _fire(self.engine, flow, trig, _upstream_vars(upstream), _flow_trigger_context(flow, upstream))

    def matches(self, key: Tuple[str, str, str], trig: Dict[str, Any], up: Execution) -> bool:
        if self.engine.version >= 2:
            # 2.x dependsOn replaces preconditions.flows, same AND-within-window rule (kestra.md §10.2).
            return self._when(trig, up) and self._all_within_window(
                key, trig.get("dependsOn") or [], trig.get("window"), up)
        if "preconditions" in trig:
            pre = trig["preconditions"]
            return self._all_within_window(key, pre.get("flows") or [], pre.get("timeWindow"), up,
                                           reset=pre.get("resetOnSuccess", True))
        states = trig.get("states") or TERMINAL_DEFAULT
        return up.state.current in states and all(_condition(c, up) for c in trig.get("conditions") or [])

    def _all_within_window(self, key: Tuple[str, str, str], flows: List[Dict[str, Any]], window: Any,
                           up: Execution, reset: bool = True) -> bool:
        """Fire when EVERY listed upstream flow had a matching execution within the window
        (default one day), then start counting again (docs: Flow trigger preconditions,
        MultipleCondition "all the flows ... in a specific period of time", resetOnSuccess)."""
        matched = [i for i, f in enumerate(flows) if _flow_match(f, up)]
        if not matched:
            return False
        now_ = _dt.datetime.now(_dt.timezone.utc)
        span = _dt.timedelta(seconds=_window_seconds(window))
        with self.lock:
            seen = self.seen.setdefault(key, {})
            for i in matched:
                seen[i] = now_
            for i, when in list(seen.items()):
                if now_ - when > span:
                    del seen[i]
            complete = len(seen) == len(flows)
            if complete and reset:
                seen.clear()
        return complete

    def _when(self, trig: Dict[str, Any], up: Execution) -> bool:
        if trig.get("when") is None:
            return True
        try:
            # rendered in the same upstream-execution context as the inputs (no `trigger.state` there:
            # "Could not perform equals comparison" on the real 2.0.0 engine, ConditionService@v2.0.0)
            text = Renderer(self.engine.version).render(trig["when"], _flow_trigger_context(
                {"id": "", "namespace": ""}, up))
        except PebbleError:
            return False
        return text not in ("false", "0", "-0", "")



def _window_seconds(window: Any) -> float:
    """`timeWindow: {type: DURATION_WINDOW, window: PT1H}`; default one day (MultipleCondition)."""
    if isinstance(window, dict) and window.get("window"):
        return parse_duration(window["window"])
    return 86400.0


def _flow_match(spec: Dict[str, Any], up: Execution) -> bool:
    states = spec.get("states") or ["SUCCESS"]
    return (spec.get("namespace") in (None, up.namespace) and spec.get("flowId") in (None, up.flow_id)
            and up.state.current in states)


def _condition(cond: Dict[str, Any], up: Execution) -> bool:
    """1.x conditions (source 0.21 `plugin/core/condition/*`); unknown ones never match."""
    ctype = cond.get("type")
    if ctype in m.CONDITION_EXECUTION_FLOW:
        return cond.get("namespace") == up.namespace and cond.get("flowId") == up.flow_id
    if ctype in m.CONDITION_EXECUTION_STATUS:
        state = up.state.current
        return (not cond.get("in") or state in cond["in"]) and state not in (cond.get("notIn") or [])
    if ctype in m.CONDITION_EXECUTION_NAMESPACE:
        ns = cond.get("namespace", "")
        return up.namespace == ns or (cond.get("comparison") == "PREFIX" and up.namespace.startswith(ns))
    if ctype in m.CONDITION_EXECUTION_LABELS:
        have = {lab["key"]: lab["value"] for lab in up.labels}
        return all(have.get(k) == str(v) for k, v in label_items(cond.get("labels")))
    return False


def _flow_trigger_context(flow: Dict[str, Any], up: Execution) -> Dict[str, Any]:
    """Flow trigger `inputs` render in runContextFactory.of(downstream flow, UPSTREAM execution):
    `execution.*`, `inputs`, `labels` are the upstream's; `trigger` holds only `outputs`, and only
    when the upstream has flow outputs, so `{{ trigger.executionId }}` fails to render: "Failed to
    trigger flow ..., invalid inputs" (1.x drops the event, 2.0 records a FAILED execution without
    inputs, which the emulator does not) (core/io/kestra/plugin/core/trigger/Flow.java@v1.3.31/@v2.0.0
    `evaluate`, executor/.../FlowTriggerService.java@v1.3.31; seen on the real 1.3.31 and 2.0.0 engines)."""
    ctx: Dict[str, Any] = {
        "flow": {"id": flow["id"], "namespace": flow["namespace"], "revision": flow.get("revision")},
        "execution": {"id": up.id, "startDate": iso(up.state.histories[0][1]), "state": up.state.current,
                      "originalId": up.original_id or up.id},
        "labels": {lab["key"]: lab["value"] for lab in up.labels},
    }
    if up.inputs:
        ctx["inputs"] = up.inputs
    if up.flow_outputs:
        ctx["trigger"] = {"outputs": up.flow_outputs}
    return ctx


def _upstream_vars(up: Execution) -> Dict[str, Any]:
    return {"executionId": up.id, "namespace": up.namespace, "flowId": up.flow_id,
            "flowRevision": up.revision, "state": up.state.current, "outputs": up.flow_outputs or {}}


# ---- Webhook -----------------------------------------------------------------------
def fire_webhook(engine: Engine, namespace: str, flow_id: str, key: str, body: Any,
                 headers: Dict[str, List[str]], parameters: Optional[Dict[str, List[str]]] = None) -> Any:
    """Start the flow whose Webhook trigger has this key, or an HTTP status:
    unknown flow or key → 404 "Flow not found"/"Webhook not found", disabled flow → 409 (IllegalState)
    (webserver/.../api/ExecutionController.java@v1.3.25 `webhook`); no execution created → 409 on 1.3
    (core/io/kestra/plugin/core/trigger/Webhook.java@v1.3.34 `evaluate`: CONFLICT when
    WebhookService.newExecution is empty: conditions not met, trigger inputs not renderable/invalid);
    2.0 answers 204 when conditions are not met and 422 when the trigger inputs cannot be rendered
    (Webhook.java@v2.0.0, WebhookService.java@v2.0.0)."""
    try:
        record = engine.get_flow(namespace, flow_id)
    except NotFound:
        raise NotFound("Flow not found")
    if record.flow.get("disabled"):
        raise Conflict("Illegal state: Cannot execute a disabled flow")
    for trig in record.flow.get("triggers") or []:
        if trig.get("type") == m.WEBHOOK and str(trig.get("key")) == key and not trig.get("disabled"):
            variables = {"body": body, "headers": headers, "parameters": parameters or {}}
            if engine.version >= 2 and trig.get("when") is not None:
                try:
                    met = Renderer(engine.version).render(trig["when"], {"trigger": variables})
                except PebbleError:
                    met = "false"
                if met in ("false", "0", "-0", ""):
                    return 204
            exe = _fire(engine, record.flow, trig, variables)
            if exe is None:
                return 422 if engine.version >= 2 else 409
            return exe
    raise NotFound("Webhook not found")
