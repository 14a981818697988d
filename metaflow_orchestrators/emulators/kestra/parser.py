"""Strict flow parsing and validation, per Kestra version.

Rules and messages follow kestra.md §2 (source 0.21 `serializers/YamlParser.java`,
`validations/validator/FlowValidator.java`) and the version profiles of §1/§14.
The result is the flow as a plain dict (type aliases resolved), plus its source text.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional

import yaml
from croniter import croniter

from . import model as m
from .defaults import apply_plugin_defaults
from .durations import parse_duration


class FlowValidationError(Exception):
    """The flow is invalid; ``errors`` lists every violation (returned as a 422)."""

    def __init__(self, errors: List[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (Jackson STRICT_DUPLICATE_DETECTION, kestra.md §2.2)."""

    def compose_node(self, parent, index):
        """An alias is its anchor's NAME, a string, not the anchored value: Kestra reads flows
        with Jackson's YAMLFactory (core/.../serializers/JacksonMapper.java@v1.3.25 `ofYaml`),
        whose parser turns an alias event into a string token of the anchor name. Seen on the
        real 1.3.31 and 2.0.0 engines: `message: *msg` is stored as "msg"
        (tests/emulators/kestra/test_kestra_parsing.py, the same case on both)."""
        if self.check_event(yaml.events.AliasEvent):
            event = self.get_event()
            return yaml.ScalarNode("tag:yaml.org,2002:str", event.anchor, event.start_mark, event.end_mark)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Dict[Any, Any]:
    loader.flatten_mapping(node)
    result: Dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise FlowValidationError(["Duplicate field '%s' at line %d" % (key, key_node.start_mark.line + 1)])
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Jackson's YAML mapper types scalars YAML-1.2 style: timestamps stay strings and only
# true/false are booleans (`yes`, `no`, `on`, `off` are strings, e.g. a task `id: no`).
_StrictLoader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

# Identifier regexes, whole-string matches (kestra.md §2.4).
FLOW_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
NAMESPACE = re.compile(r"[a-z0-9][a-z0-9._-]*")
TASK_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
INPUT_ID = re.compile(r"[a-zA-Z0-9][.a-zA-Z0-9_-]*")
LABEL_KEY = re.compile(r"[^\W\d_A-Z][\w.-]*")


def load_yaml(source: str) -> Dict[str, Any]:
    """Parse one YAML document strictly; anything but a mapping is an error."""
    try:
        data = yaml.load(source, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise FlowValidationError(["Invalid YAML: %s" % exc])
    if not isinstance(data, dict):
        raise FlowValidationError(["Invalid YAML: a flow must be a mapping"])
    return data


def parse_flow(source: str, version: int) -> Dict[str, Any]:
    """Parse and validate a flow; raises FlowValidationError listing every violation."""
    flow = load_yaml(source)
    if version < 2 and isinstance(flow.get("pluginDefaults"), list):
        flow = apply_plugin_defaults(flow)  # injected before validation (PluginDefaultService)
    errors = FlowChecker(version).check(flow)
    if errors:
        raise FlowValidationError(errors)
    return flow


class FlowChecker:
    """Collects violations instead of stopping at the first, as Kestra's validator does."""

    def __init__(self, version: int):
        self.version = version
        self.errors: List[str] = []

    def check(self, flow: Dict[str, Any]) -> List[str]:
        allowed = dict(m.FLOW_PROPS, **(m.FLOW_PROPS_V1 if self.version < 2 else m.FLOW_PROPS_V2))
        self._props(flow, allowed, "")
        self._flow_identity(flow)
        for key in ("tasks", "errors", "finally", "afterExecution"):
            if key in flow:
                self._tasks(flow[key], key, required=(key == "tasks"))
        if "tasks" not in flow:
            self.errors.append("tasks: must not be empty")
        self._unique_task_ids(flow)
        self._inputs(flow.get("inputs") or [])
        self._labels(flow.get("labels"))
        self._triggers(flow.get("triggers") or [])
        self._concurrency(flow.get("concurrency"))
        for i, default in enumerate(flow.get("pluginDefaults") or [] if self.version < 2 else []):
            self._props(default, {"type": "str", "values": "map", "forced": "bool"}, "pluginDefaults[%d]" % i)
        self._sla(flow.get("sla") or [])
        return self.errors

    # ---- generic property checks ----------------------------------------------------
    def _props(self, obj: Any, allowed: Dict[str, str], path: str) -> None:
        if not isinstance(obj, dict):
            self.errors.append("%s: must be an object" % (path or "flow"))
            return
        for key, value in obj.items():
            where = "%s.%s" % (path, key) if path else str(key)
            kind = allowed.get(key)
            if kind is None:
                # UnrecognizedPropertyException in Kestra's strict mapper (kestra.md §2.2).
                self.errors.append("Unrecognized field \"%s\" at %s" % (key, where))
            else:
                self._kind(kind, value, where)

    def _kind(self, kind: str, value: Any, where: str) -> None:
        checks = {"str": lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool),
                  "bool": lambda v: isinstance(v, bool) or (isinstance(v, str) and "{{" in v),
                  "int": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, str),
                  "list": lambda v: isinstance(v, list), "map": lambda v: isinstance(v, dict)}
        if kind in checks and not checks[kind](value):
            self.errors.append("%s: invalid value %r (expected %s)" % (where, value, kind))
        elif kind == "duration":
            self._duration(value, where)
        elif kind == "retry":
            self._retry(value, where)
        elif kind == "runner":
            self._runner(value, where)

    def _duration(self, value: Any, where: str) -> None:
        try:
            parse_duration(value)
        except ValueError as exc:
            self.errors.append("%s: %s" % (where, exc))

    def _flow_identity(self, flow: Dict[str, Any]) -> None:
        fid, ns = flow.get("id"), flow.get("namespace")
        if not isinstance(fid, str) or not FLOW_ID.fullmatch(fid) or len(fid) > 100:
            self.errors.append("id: must match \"^[a-zA-Z0-9][a-zA-Z0-9._-]*\" (1-100 chars), got %r" % (fid,))
        elif fid in m.RESERVED_FLOW_IDS:
            # Reserved since 1.0 (docs migration-guide/1.0.0/reserved-flow-ids).
            self.errors.append("id: flow id '%s' is reserved" % fid)
        if not isinstance(ns, str) or not NAMESPACE.fullmatch(ns) or len(ns) > 150:
            self.errors.append("namespace: must match \"^[a-z0-9][a-z0-9._-]*\" (1-150 chars), got %r" % (ns,))

    # ---- tasks -----------------------------------------------------------------------
    def _tasks(self, tasks: Any, path: str, required: bool = False) -> None:
        if not isinstance(tasks, list) or (required and not tasks):
            self.errors.append("%s: must be a non-empty list of tasks" % path)
            return
        for i, task in enumerate(tasks):
            self._task(task, "%s[%d]" % (path, i))

    def _task(self, task: Any, path: str) -> None:
        if not isinstance(task, dict):
            self.errors.append("%s: a task must be an object" % path)
            return
        ttype = self._resolve_type(task, path)
        if ttype is None:
            return
        allowed = dict(m.TASK_COMMON, **m.TASK_TYPES[ttype])
        if ttype == m.PARALLEL and self.version >= 2:
            allowed.update(m.PARALLEL_V2)
        allowed.update(m.TASK_COMMON_V1 if self.version < 2 else m.TASK_COMMON_V2)
        if ttype in m.SCRIPT_TYPES:
            allowed.update(m.SCRIPT_COMMON)
            if self.version < 2:
                allowed.update(m.SCRIPT_COMMON_V1)
        self._props(task, allowed, path)
        for key in sorted(set(task) & m.UNSUPPORTED_TASK_PROPS):
            # Accepted by Kestra, not emulated: fail loudly instead of ignoring (docs/kestra-emulator.md).
            self.errors.append("%s.%s: not supported by this emulator" % (path, key))
        if "inputFiles" in task and not isinstance(task["inputFiles"], (dict, str)):
            self.errors.append("%s.inputFiles: must be a map of file name to content" % path)
        tid = task.get("id")
        if not isinstance(tid, str) or not TASK_ID.fullmatch(tid):
            self.errors.append("%s.id: must match \"^[a-zA-Z0-9][a-zA-Z0-9_-]*\", got %r" % (path, tid))
        for key in sorted(m.REQUIRED.get(ttype, set()) - set(task)):
            self.errors.append("%s.%s: must not be null" % (path, key))
        self._children(task, ttype, path)

    def _resolve_type(self, task: Dict[str, Any], path: str) -> Optional[str]:
        ttype = task.get("type")
        if self.version < 2 and ttype in m.TYPE_ALIASES_V1:
            ttype = task["type"] = m.TYPE_ALIASES_V1[ttype]
        if ttype in m.TYPE_ALIASES:
            ttype = task["type"] = m.TYPE_ALIASES[ttype]
        known = ttype in m.TASK_TYPES
        if known and self.version >= 2 and ttype in m.V1_ONLY_TYPES:
            known = False  # ForEach removed in 2.0 (kestra.md §14)
        if known and self.version < 2 and ttype in m.V2_ONLY_TYPES:
            known = False  # Loop arrives with 2.0 (kestra.md §1)
        if not known:
            self.errors.append("%s.type: Invalid type: %s" % (path, ttype))
            return None
        return ttype

    def _children(self, task: Dict[str, Any], ttype: str, path: str) -> None:
        for key in ("tasks", "errors", "finally", "then", "else", "defaults"):
            if key in task:
                required = key in ("tasks", "then")
                if ttype == m.LOOP_UNTIL and key == "tasks" and self.version < 2:
                    # 1.3.34 LoopUntil.tasks is only @NotNull (an empty list passes); 2.0 extends AbstractBranch,
                    # whose tasks are @NotEmpty (core/io/kestra/plugin/core/flow/LoopUntil.java@v1.3.34,
                    # AbstractBranch.java@v2.0.0)
                    required = False
                    if task[key] is None:
                        self.errors.append("%s.tasks: must not be null" % path)
                        continue
                self._tasks(task[key], "%s.%s" % (path, key), required=required)
        if ttype == m.LOOP_UNTIL:
            if "condition" in task and task["condition"] is None:
                self.errors.append("%s.condition: must not be null" % path)  # @NotNull Property<String>
            if isinstance(task.get("checkFrequency"), dict):
                self._props(task["checkFrequency"], m.LOOP_UNTIL_FREQUENCY, path + ".checkFrequency")
        if isinstance(task.get("cases"), dict):
            for case, tasks in task["cases"].items():
                # An empty case list passes validation (no @NotEmpty, Switch.java@v1.3.34/@v2.0.0).
                self._tasks(tasks, "%s.cases.%s" % (path, case))
        elif "cases" in task:
            self.errors.append("%s.cases: must be a map of task lists" % path)
        if ttype == m.SWITCH and not task.get("cases") and not task.get("defaults"):
            # core/io/kestra/core/validations/validator/SwitchTaskValidator.java@v1.3.34/@v2.0.0
            self.errors.append("%s: No task defined, neither cases or default have any tasks" % path)
        if ttype == m.PARALLEL and not isinstance(task.get("concurrent", 0), int):
            self.errors.append("%s.concurrent: must be an integer" % path)
        for key in ("concurrencyLimit", "concurrent"):
            if isinstance(task.get(key), int) and task[key] < 0:
                self.errors.append("%s.%s: must be greater than or equal to 0" % (path, key))
        if ttype == m.LOOP:
            for i, out in enumerate(task.get("outputs") or []):
                self._props(out, {"id": "str", "type": "str", "value": "any", "displayName": "str",
                                  "required": "bool"}, "%s.outputs[%d]" % (path, i))

    def _runner(self, runner: Any, where: str) -> None:
        if not isinstance(runner, dict) or runner.get("type") != m.PROCESS_RUNNER:
            # Only the Process runner runs here; Docker needs a container engine (docs/kestra-emulator.md).
            self.errors.append("%s: only taskRunner type %s is supported by this emulator" % (where, m.PROCESS_RUNNER))
        elif set(runner) - {"type", "version"}:
            self.errors.append("%s: Unrecognized field \"%s\"" % (where, sorted(set(runner) - {"type", "version"})[0]))

    def _retry(self, retry: Any, where: str) -> None:
        if not isinstance(retry, dict) or retry.get("type") not in m.RETRY_PROPS:
            self.errors.append("%s.type: Invalid retry type %r" % (where, (retry or {}).get("type")
                                                                  if isinstance(retry, dict) else retry))
            return
        allowed = dict(m.RETRY_COMMON, **m.RETRY_PROPS[retry["type"]])
        if self.version < 2:
            allowed["maxAttempt"] = "int"  # pre-0.24 alias, kept through 1.3 (kestra.md §7)
        self._props(retry, allowed, where)
        attempts = retry.get("maxAttempts", retry.get("maxAttempt"))
        if isinstance(attempts, int) and attempts < 1:
            self.errors.append("%s.maxAttempts: must be greater than or equal to 1" % where)
        if retry["type"] == "exponential" and "maxInterval" not in retry:
            self.errors.append("%s.maxInterval: must not be null" % where)
        if self.version >= 2:
            # @DurationMin(millis = 1, message = "must be a positive duration") on every retry
            # duration (tasks/retrys/AbstractRetry.java, Constant.java, Exponential.java,
            # Random.java@v2.0.0); 1.3 has no lower bound (Constant.java@v1.3.34).
            for name in ("interval", "maxInterval", "minInterval", "maxDuration"):
                value = retry.get(name)
                if isinstance(value, str) and _positive_ms(value) is False:
                    self.errors.append("%s.%s: must be a positive duration" % (where, name))

    # ---- flow-wide rules -------------------------------------------------------------
    def _unique_task_ids(self, flow: Dict[str, Any]) -> None:
        # FlowValidator: ids unique across the whole flow, nested tasks included (kestra.md §2.3).
        seen: Dict[str, int] = {}
        for task in iter_tasks(flow):
            if isinstance(task.get("id"), str):
                seen[task["id"]] = seen.get(task["id"], 0) + 1
        dupes = [k for k, n in seen.items() if n > 1]
        if dupes:
            self.errors.append("Invalid Flow: Duplicate task id with name [%s]" % ", ".join(dupes))

    def _inputs(self, inputs: Any) -> None:
        if not isinstance(inputs, list):
            return
        types = m.INPUT_TYPES_V1 if self.version < 2 else m.INPUT_TYPES_V2
        ids: List[str] = []
        for i, inp in enumerate(inputs):
            path = "inputs[%d]" % i
            self._props(inp, m.INPUT_PROPS, path)
            if not isinstance(inp, dict):
                continue
            if not isinstance(inp.get("id"), str) or not INPUT_ID.fullmatch(inp["id"]):
                self.errors.append("%s.id: must match \"^[a-zA-Z0-9][.a-zA-Z0-9_-]*\"" % path)
            else:
                ids.append(inp["id"])
            if inp.get("type") not in types:
                # BOOLEAN and ENUM are gone in 2.x (kestra.md §9.1).
                self.errors.append("%s.type: Invalid input type: %s" % (path, inp.get("type")))
            # core/io/kestra/core/validations/validator/InputValidator.java@v1.3.34/@v2.0.0 (`required`
            # defaults to true, models/flows/Input.java): a default with `required: false` is rejected, and
            # a default cannot come with a prefill. (2.0 accepts Pebble in defaults: FlowValidator.java@v2.0.0
            # `literalValueViolation` leaves expressions alone.)
            if inp.get("defaults") is not None and inp.get("required") is False:
                self.errors.append("%s: Inputs with a default value must be required, since the default is "
                                   "always applied." % path)
            elif inp.get("defaults") is not None and inp.get("prefill") is not None:
                self.errors.append("%s: Inputs with a default value cannot also have a prefill." % path)
        dupes = sorted({x for x in ids if ids.count(x) > 1})
        if dupes:
            self.errors.append("Invalid Flow: Duplicate input with name [%s]" % ", ".join(dupes))

    def _labels(self, labels: Any) -> None:
        for key, value in label_items(labels, self.errors):
            if key.startswith("system."):
                self.errors.append("Invalid Flow: System labels can only be set by Kestra itself, "
                                   "offending label: %s=%s" % (key, value))
            elif not LABEL_KEY.fullmatch(key):
                self.errors.append("labels: key %r must start with a lowercase letter" % key)
            if value in (None, ""):
                self.errors.append("labels.%s: value must not be empty" % key)

    def _triggers(self, triggers: Any) -> None:
        ids: List[str] = []
        for i, trig in enumerate(triggers if isinstance(triggers, list) else []):
            path = "triggers[%d]" % i
            if not isinstance(trig, dict):
                self.errors.append("%s: must be an object" % path)
                continue
            ttype = trig.get("type")
            if self.version < 2 and ttype in m.TYPE_ALIASES_V1:
                ttype = trig["type"] = m.TYPE_ALIASES_V1[ttype]
            if ttype not in m.TRIGGER_TYPES:
                self.errors.append("%s.type: Invalid type: %s" % (path, ttype))
                continue
            self._trigger_props(trig, ttype, path)
            ids.append(trig.get("id"))
        dupes = sorted({str(x) for x in ids if ids.count(x) > 1})
        if dupes:
            self.errors.append("Invalid Flow: Duplicate trigger id with name [%s]" % ", ".join(dupes))

    def _trigger_props(self, trig: Dict[str, Any], ttype: str, path: str) -> None:
        allowed = dict(m.TRIGGER_COMMON, **m.TRIGGER_TYPES[ttype])
        allowed.update(m.TRIGGER_COMMON_V1 if self.version < 2 else m.TRIGGER_COMMON_V2)
        drop = m.TRIGGER_V2_ONLY if self.version < 2 else m.TRIGGER_V1_ONLY
        # 2.x removed conditions/preconditions; 1.x has no dependsOn (kestra.md §10.2, §14).
        self._props(trig, {k: v for k, v in allowed.items() if k not in drop}, path)
        if not isinstance(trig.get("id"), str) or not TASK_ID.fullmatch(trig["id"]):
            self.errors.append("%s.id: must match \"^[a-zA-Z0-9][a-zA-Z0-9_-]*\"" % path)
        if ttype == m.SCHEDULE:
            self._cron(trig, path)
        elif ttype == m.WEBHOOK and not trig.get("key"):
            self.errors.append("%s.key: must not be null" % path)
        elif ttype == m.FLOW_TRIGGER:
            self._flow_trigger(trig, path)

    def _flow_trigger(self, trig: Dict[str, Any], path: str) -> None:
        """Upstream-flow entries and windows, strictly (kestra.md §10.2)."""
        upstream = {"namespace": "str", "flowId": "str", "states": "list", "labels": "any"}
        window = {"type": "str", "window": "duration", "windowAdvance": "duration", "startTime": "str",
                  "endTime": "str", "deadline": "str"}
        if self.version >= 2:
            if not trig.get("dependsOn"):
                self.errors.append("%s.dependsOn: must not be empty" % path)
            for i, dep in enumerate(trig.get("dependsOn") or []):
                self._props(dep, upstream, "%s.dependsOn[%d]" % (path, i))
            if "window" in trig:
                self._props(trig["window"], window, path + ".window")
            return
        pre = trig.get("preconditions")
        if pre is None:
            return
        self._props(pre, {"id": "str", "flows": "list", "where": "list", "timeWindow": "map",
                          "resetOnSuccess": "bool"}, path + ".preconditions")
        if isinstance(pre, dict):
            if "where" in pre:
                self.errors.append("%s.preconditions.where: not supported by this emulator" % path)
            for i, dep in enumerate(pre.get("flows") or []):
                self._props(dep, upstream, "%s.preconditions.flows[%d]" % (path, i))
            if isinstance(pre.get("timeWindow"), dict):
                self._props(pre["timeWindow"], window, path + ".preconditions.timeWindow")

    def _cron(self, trig: Dict[str, Any], path: str) -> None:
        cron = trig.get("cron")
        if not isinstance(cron, str) or not valid_cron(cron, bool(trig.get("withSeconds"))):
            # cron-utils UNIX definition: 5 fields, no `?`, no year (kestra.md §10.1).
            self.errors.append("%s.cron: invalid cron expression %r" % (path, cron))
        tz = trig.get("timezone")
        if tz is not None and not _valid_timezone(tz):
            self.errors.append("%s.timezone: unknown time zone %r" % (path, tz))

    def _concurrency(self, conc: Any) -> None:
        if conc is None:
            return
        self._props(conc, {"limit": "int", "behavior": "str"}, "concurrency")
        if isinstance(conc, dict):
            if not isinstance(conc.get("limit"), int) or conc["limit"] < 1:
                self.errors.append("concurrency.limit: must be greater than or equal to 1")
            if conc.get("behavior", "QUEUE") not in ("QUEUE", "CANCEL", "FAIL"):
                self.errors.append("concurrency.behavior: must be one of QUEUE, CANCEL, FAIL")

    def _sla(self, slas: Any) -> None:
        for i, sla in enumerate(slas if isinstance(slas, list) else []):
            path = "sla[%d]" % i
            self._props(sla, {"id": "str", "type": "str", "behavior": "str", "duration": "duration",
                              "labels": "any", "assert": "str"}, path)
            if isinstance(sla, dict):
                if sla.get("type") not in ("MAX_DURATION", "EXECUTION_ASSERTION"):
                    self.errors.append("%s.type: Invalid SLA type %r" % (path, sla.get("type")))
                if sla.get("behavior") not in ("FAIL", "CANCEL", "NONE"):
                    self.errors.append("%s.behavior: must be one of FAIL, CANCEL, NONE" % path)
                if sla.get("type") == "MAX_DURATION" and "duration" not in sla:
                    self.errors.append("%s.duration: must not be null" % path)


def valid_cron(cron: str, with_seconds: bool = False) -> bool:
    """5-field UNIX cron (6 with seconds) or a nickname, no `?` (kestra.md §10.1)."""
    text = cron.strip()
    if text in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"):
        return True
    fields = text.split()
    if "?" in text or len(fields) != (6 if with_seconds else 5):
        return False
    expr = " ".join(fields[1:] + fields[:1]) if with_seconds else text
    return bool(croniter.is_valid(expr))


def _valid_timezone(tz: Any) -> bool:
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(str(tz))
        return True
    except Exception:  # noqa: BLE001 - any lookup failure means "unknown zone"
        return False


def label_items(labels: Any, errors: Optional[List[str]] = None) -> List[tuple]:
    """Labels as (key, value) pairs from either the map or the list form (spec `Label`)."""
    if labels is None:
        return []
    if isinstance(labels, dict):
        return [(str(k), v) for k, v in labels.items()]
    if isinstance(labels, list) and all(isinstance(x, dict) and set(x) == {"key", "value"} for x in labels):
        return [(str(x["key"]), x["value"]) for x in labels]
    if errors is not None:
        errors.append("labels: must be a map or a list of {key, value}")
    return []


def iter_tasks(container: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    """Every task of a flow or flowable, nested ones included, in document order."""
    for key in ("tasks", "errors", "finally", "afterExecution", "then", "else", "defaults"):
        items = container.get(key)
        for task in items if isinstance(items, list) else []:
            if isinstance(task, dict):
                yield task
                yield from iter_tasks(task)
    cases = container.get("cases")
    if isinstance(cases, dict):
        for tasks in cases.values():
            for task in tasks if isinstance(tasks, list) else []:
                if isinstance(task, dict):
                    yield task
                    yield from iter_tasks(task)


def _positive_ms(text: str):
    """Whether an ISO-8601 duration is at least 1 ms (None when it does not parse)."""
    try:
        return parse_duration(text) >= 0.001
    except Exception:
        return None
