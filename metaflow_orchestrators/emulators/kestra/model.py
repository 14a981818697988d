"""Which properties each Kestra type accepts, per version.

Kestra parses flows with a strict Jackson mapper (FAIL_ON_UNKNOWN_PROPERTIES, kestra.md §2.2),
so every key not listed here is a validation error. A property kind drives light type checks:
"str", "bool", "int", "list", "map", "tasks", "duration", "any", "retry", "runner", "cases".
"""
from __future__ import annotations

from typing import Dict, Set

CORE = "io.kestra.plugin.core."
SHELL_COMMANDS = "io.kestra.plugin.scripts.shell.Commands"
SHELL_SCRIPT = "io.kestra.plugin.scripts.shell.Script"
PY_COMMANDS = "io.kestra.plugin.scripts.python.Commands"
PY_SCRIPT = "io.kestra.plugin.scripts.python.Script"
PROCESS_RUNNER = "io.kestra.plugin.core.runner.Process"
SEQUENTIAL = CORE + "flow.Sequential"
PARALLEL = CORE + "flow.Parallel"
FOREACH = CORE + "flow.ForEach"
LOOP = CORE + "flow.Loop"
SWITCH = CORE + "flow.Switch"
IF = CORE + "flow.If"
LOOP_UNTIL = CORE + "flow.LoopUntil"
LOG = CORE + "log.Log"
RETURN = CORE + "debug.Return"
FAIL = CORE + "execution.Fail"
SCHEDULE = CORE + "trigger.Schedule"
FLOW_TRIGGER = CORE + "trigger.Flow"
WEBHOOK = CORE + "trigger.Webhook"

# Common task properties (source 0.21 `models/tasks/Task.java`; kestra.md §3.1).
TASK_COMMON: Dict[str, str] = {
    "id": "str", "type": "str", "description": "str", "retry": "retry", "timeout": "duration",
    "disabled": "bool", "logLevel": "str", "allowFailure": "bool", "allowWarning": "bool",
    "runIf": "str", "logToFile": "bool",
}
TASK_COMMON_V1 = {"workerGroup": "map"}
TASK_COMMON_V2 = {"workerSelector": "any", "when": "str"}

# Script properties (plugin-scripts `AbstractExecScript`; kestra.md §3.2).
SCRIPT_COMMON: Dict[str, str] = {
    "taskRunner": "runner", "containerImage": "str", "beforeCommands": "list", "env": "map",
    "interpreter": "list", "failFast": "bool", "inputFiles": "any", "outputFiles": "list",
    "namespaceFiles": "any", "targetOS": "str", "outputDirectory": "bool",
}
SCRIPT_COMMON_V1 = {"warningOnStdErr": "bool", "runner": "str", "docker": "map"}

TASK_TYPES: Dict[str, Dict[str, str]] = {
    SHELL_COMMANDS: {"commands": "list"},
    PY_COMMANDS: {"commands": "list", "dependencies": "list", "pythonVersion": "str",
                  "packageManager": "str", "dependencyCacheEnabled": "bool"},
    SHELL_SCRIPT: {"script": "str"},
    PY_SCRIPT: {"script": "str", "dependencies": "list", "pythonVersion": "str",
                "packageManager": "str", "dependencyCacheEnabled": "bool"},
    SEQUENTIAL: {"tasks": "tasks", "errors": "tasks", "finally": "tasks"},
    PARALLEL: {"tasks": "tasks", "concurrent": "int", "errors": "tasks", "finally": "tasks"},
    # 2.x adds `onChildFailure` (core/io/kestra/plugin/core/flow/Parallel.java@v2.0.0), see PARALLEL_V2.
    FOREACH: {"values": "any", "concurrencyLimit": "int", "tasks": "tasks", "errors": "tasks",
              "finally": "tasks"},
    LOOP: {"values": "any", "concurrencyLimit": "int", "tasks": "tasks", "errors": "tasks",
           "finally": "tasks", "transmitFailed": "bool", "outputs": "list", "fetchType": "str"},
    # (core/io/kestra/plugin/core/flow/Loop.java@v2.0.0 has no `breakWhen`)
    SWITCH: {"value": "str", "cases": "cases", "defaults": "tasks", "errors": "tasks",
             "finally": "tasks"},
    IF: {"condition": "any", "then": "tasks", "else": "tasks", "errors": "tasks", "finally": "tasks"},
    # core/io/kestra/plugin/core/flow/LoopUntil.java@v1.3.34/@v2.0.0: `condition`, `failOnMaxReached` and the
    # checkFrequency fields are `Property<...>` (any scalar/list/map is read as text, converted at run time);
    # `checkFrequency` itself is a plain bean (a map with known keys).
    LOOP_UNTIL: {"tasks": "tasks", "errors": "tasks", "finally": "tasks", "condition": "any",
                 "failOnMaxReached": "any", "checkFrequency": "map"},
    LOG: {"message": "any", "level": "str"},
    RETURN: {"format": "str"},
    FAIL: {"errorMessage": "str", "condition": "str"},
}
# Kestra properties this emulator does not implement; the parser rejects them by name.
UNSUPPORTED_TASK_PROPS: Set[str] = {"outputFiles", "namespaceFiles", "dependencies"}
OUTPUT_VALUES = CORE + "output.OutputValues"
TASK_TYPES[OUTPUT_VALUES] = {"values": "map"}
SCRIPT_TYPES: Set[str] = {SHELL_COMMANDS, PY_COMMANDS, SHELL_SCRIPT, PY_SCRIPT}
FLOWABLE_TYPES: Set[str] = {SEQUENTIAL, PARALLEL, FOREACH, LOOP, SWITCH, IF, LOOP_UNTIL}
# Restart treats these flowables like runnables (RESTARTED, not RUNNING):
# core/io/kestra/core/services/ExecutionService.java@v1.3.34/@v2.0.0 `mapTaskRun`.
RESTART_AS_RUNNABLE: Set[str] = {LOOP_UNTIL}
LOOP_UNTIL_FREQUENCY = {"maxIterations": "any", "maxDuration": "any", "interval": "any"}
REQUIRED: Dict[str, Set[str]] = {
    SHELL_COMMANDS: {"commands"}, PY_COMMANDS: {"commands"}, SHELL_SCRIPT: {"script"},
    PY_SCRIPT: {"script"}, SEQUENTIAL: {"tasks"}, PARALLEL: {"tasks"},  # Switch: SwitchTaskValidator
    FOREACH: {"values", "tasks"}, LOOP: {"values", "tasks"}, SWITCH: {"value"},
    IF: {"condition", "then"}, LOG: {"message"}, LOOP_UNTIL: {"tasks", "condition"},
}
PARALLEL_V2 = {"onChildFailure": "str"}
# ForEach exists only up to 1.x, Loop only from 2.0 (kestra.md §1, §14).
V1_ONLY_TYPES = {FOREACH}
V2_ONLY_TYPES = {LOOP}

# Flow top-level properties (kestra.md §2.1; spec `Flow`).
FLOW_PROPS: Dict[str, str] = {
    "id": "str", "namespace": "str", "revision": "int", "description": "str", "inputs": "list",
    "outputs": "list", "variables": "map", "labels": "any", "disabled": "bool", "deleted": "bool",
    "tasks": "tasks", "errors": "tasks", "finally": "tasks", "afterExecution": "tasks",
    "triggers": "list", "concurrency": "map", "retry": "retry", "sla": "list", "checks": "list",
    "listeners": "list",
}
FLOW_PROPS_V1 = {"pluginDefaults": "list", "taskDefaults": "list", "workerGroup": "map"}
FLOW_PROPS_V2 = {"draft": "bool", "workerSelector": "any"}

# Retry (kestra.md §7): maxAttempt is the pre-0.24 alias, gone in 2.x.
RETRY_PROPS: Dict[str, Dict[str, str]] = {
    "constant": {"interval": "duration"},
    "exponential": {"interval": "duration", "maxInterval": "duration", "delayFactor": "any"},
    "random": {"minInterval": "duration", "maxInterval": "duration"},
}
RETRY_COMMON = {"type": "str", "maxAttempts": "int", "maxDuration": "duration",
                "warningOnRetry": "bool", "behavior": "str"}

# Inputs (kestra.md §9).
INPUT_TYPES_COMMON = {"STRING", "INT", "FLOAT", "SELECT", "MULTISELECT", "DATETIME", "DATE", "TIME",
                      "DURATION", "FILE", "JSON", "URI", "SECRET", "ARRAY", "YAML", "EMAIL", "BOOL"}
INPUT_TYPES_V1 = INPUT_TYPES_COMMON | {"BOOLEAN", "ENUM"}
INPUT_TYPES_V2 = INPUT_TYPES_COMMON
INPUT_PROPS = {"id": "str", "type": "str", "required": "bool", "defaults": "any", "description": "str",
               "displayName": "str", "dependsOn": "any", "prefill": "any", "validator": "str",
               "min": "any", "max": "any", "values": "list", "itemType": "str", "allowCustomValue": "bool",
               "expression": "any", "name": "str", "autoSelectFirst": "bool", "isRadio": "bool",
               "after": "any", "before": "any", "allowedFileExtensions": "list"}

# Triggers (kestra.md §10).
TRIGGER_COMMON = {"id": "str", "type": "str", "description": "str", "disabled": "bool",
                  "inputs": "map", "labels": "any", "stopAfter": "list", "logLevel": "str"}
TRIGGER_COMMON_V1 = {"conditions": "list", "workerGroup": "map", "minLogLevel": "str"}
TRIGGER_COMMON_V2 = {"when": "str", "workerSelector": "any"}
TRIGGER_TYPES: Dict[str, Dict[str, str]] = {
    SCHEDULE: {"cron": "str", "timezone": "str", "withSeconds": "bool", "lateMaximumDelay": "duration",
               "recoverMissedSchedules": "str", "scheduleConditions": "list", "backfill": "map"},
    FLOW_TRIGGER: {"preconditions": "map", "dependsOn": "list", "window": "map", "states": "list"},
    # AbstractWebhookTrigger.key/inputs + Webhook wait/returnOutputs/responseContentType/responseCode
    # (core/io/kestra/plugin/core/trigger/Webhook.java@v1.3.34/@v2.0.0).
    WEBHOOK: {"key": "str", "wait": "bool", "returnOutputs": "bool", "responseContentType": "str",
              "responseCode": "any"},
}
TRIGGER_V1_ONLY = {"preconditions", "scheduleConditions", "backfill", "conditions", "states"}
TRIGGER_V2_ONLY = {"dependsOn", "window"}

# 1.0+ reserved flow ids (kestra.md §2.4).
RESERVED_FLOW_IDS = {"text", "pause", "resume", "force-run", "change-status", "kill", "executions",
                     "search", "source", "disable", "enable"}

# Aliases kept in 1.x but removed in 2.x (kestra.md §14): short io.kestra.core.* names.
TYPE_ALIASES_V1 = {
    "io.kestra.core.tasks.flows.Sequential": SEQUENTIAL,
    "io.kestra.core.tasks.flows.Parallel": PARALLEL,
    "io.kestra.core.tasks.flows.Switch": SWITCH,
    "io.kestra.core.tasks.flows.If": IF,
    "io.kestra.core.tasks.log.Log": LOG,
    "io.kestra.core.models.triggers.types.Schedule": SCHEDULE,
    "io.kestra.core.models.triggers.types.Flow": FLOW_TRIGGER,
    "io.kestra.core.models.triggers.types.Webhook": WEBHOOK,
}

# Aliases in both versions: `@Plugin(aliases = "io.kestra.plugin.core.flow.WaitFor")` on
# core/io/kestra/plugin/core/flow/LoopUntil.java@v1.3.34/@v2.0.0.
TYPE_ALIASES = {CORE + "flow.WaitFor": LOOP_UNTIL}

CONDITION_EXECUTION_FLOW = {CORE + "condition.ExecutionFlow", CORE + "condition.ExecutionFlowCondition"}
CONDITION_EXECUTION_STATUS = {CORE + "condition.ExecutionStatus", CORE + "condition.ExecutionStatusCondition"}
CONDITION_EXECUTION_NAMESPACE = {CORE + "condition.ExecutionNamespace",
                                 CORE + "condition.ExecutionNamespaceCondition"}
CONDITION_EXECUTION_LABELS = {CORE + "condition.ExecutionLabels", CORE + "condition.ExecutionLabelsCondition"}
