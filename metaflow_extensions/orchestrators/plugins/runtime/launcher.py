"""The launcher: (static spec, runtime scalars) -> the exact ``metaflow`` command.

A pure function, so every position of every shape can be unit-tested without a
process. The engine supplies only scalars it really has (execution id, foreach index
path, attempt, foreach width, switch branches reported by upstream tasks); everything
else comes from the spec the compiler wrote.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import ids
from .pathspecs import compress
from .resume import ResumeRequest


class LaunchError(Exception):
    """The runtime values do not fit the step (a missing branch, width, ...)."""


@dataclass(frozen=True)
class RuntimeValues:
    execution_id: str
    index_path: Tuple[int, ...] = ()
    iteration: int = 0  # only for a recursive switch step
    attempt: int = 0  # 0-based, as Metaflow's --retry-count
    width: Optional[int] = None  # foreach join: how many splits the foreach made
    branches: Mapping[str, str] = field(default_factory=dict)  # position key -> step taken
    loops: Mapping[str, int] = field(default_factory=dict)  # position key -> last iteration
    params: Mapping[str, Any] = field(default_factory=dict)  # init: parameter name -> value
    event: Optional[Mapping[str, Any]] = None  # init: payload of the triggering event
    resume: Optional[ResumeRequest] = None  # init: the run resumes another one
    origin_run: Optional[str] = None  # step: the run this one resumes


@dataclass(frozen=True)
class Command:
    argv: List[str]
    env: Dict[str, str]  # added to the task's environment
    files: Dict[str, str] = field(default_factory=dict)  # path -> content, written first


def decode_spec(text: str) -> Dict[str, Any]:
    """A spec (or spec part) as JSON text, or base64 of it (what an engine template that
    encodes on render gives: nothing in base64 can be read as a template again)."""
    text = text.strip()
    if not text.startswith("{"):
        text = base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
    value = json.loads(text)
    if not isinstance(value, dict):
        raise LaunchError("a spec must be a JSON object")
    return value


def assemble(flow: Dict[str, Any], part: Dict[str, Any]) -> Dict[str, Any]:
    """One task's whole spec: the shared part, then the task's own (``--with`` options
    first among the top-level options, the step's variables over the flow's)."""
    spec = dict(flow)
    spec.update({k: v for k, v in part.items() if k not in ("with", "env")})
    spec["top"] = ["--with=%s" % s for s in part.get("with") or ()] + list(flow.get("top") or ())
    spec.setdefault("tags", [])
    spec["env"] = {**(flow.get("env") or {}), **(part.get("env") or {})}
    return spec


def build_command(spec: Mapping[str, Any], rt: RuntimeValues) -> Command:
    if spec["kind"] == "init":
        return _init_command(spec, rt)
    return _step_command(spec, rt)


def run_id(spec: Mapping[str, Any], rt: RuntimeValues) -> str:
    return ids.run_id(spec["engine"], rt.execution_id)


def own_task_id(spec: Mapping[str, Any], rt: RuntimeValues) -> str:
    return ids.task_id(rt.index_path, rt.iteration if spec.get("recursive") else None)


def _init_command(spec, rt: RuntimeValues) -> Command:
    if rt.resume is not None and not rt.resume.new_parameters:
        return _resume_command(spec, rt, rt.resume)
    env, files, config_opts = _base_env(spec)
    argv = _prefix(spec) + config_opts + ["init", "--run-id", run_id(spec, rt), "--task-id", ids.PARAMS_TASK_ID]
    argv += _tags(spec)
    types = spec.get("params") or {}
    for name, value in sorted(event_params(spec, rt).items()):
        if name not in types:
            raise LaunchError("the flow has no parameter %r" % name)
        if value is not None:
            argv += ["--%s" % name, param_text(value, types[name])]
    return Command(argv, env, files)


def _resume_command(spec, rt: RuntimeValues, request: ResumeRequest) -> Command:
    """The init of a resumed run: Metaflow's ``resume --clone-only --reentrant`` creates the
    run with the origin's parameters and clones every task of the origin run that succeeded,
    except the steps to re-run and those after them, keeping their task ids (metaflow.md
    §11.2). Configs come from the origin run, so none are passed (as Argo's resume does)."""
    env, _, _ = _base_env(spec)
    env.pop("METAFLOW_FLOW_CONFIG_VALUE", None)
    new_run = run_id(spec, rt)
    argv = _prefix(spec) + ["resume", "--origin-run-id", request.origin_run_id, "--run-id", new_run,
                            "--clone-only", "--reentrant", "--resume-identifier", new_run]
    argv += _tags(spec)
    if request.step:
        argv.append(request.step)
    return Command(argv, env)


def _step_command(spec, rt: RuntimeValues) -> Command:
    env, files, config_opts = _base_env(spec)
    paths, split_index = input_paths(spec, rt)
    argv = _prefix(spec) + config_opts
    if spec.get("internal"):
        argv.append("--with=%s" % spec["internal"])
    argv += [
        "step", spec["step"],
        "--run-id", run_id(spec, rt),
        "--task-id", own_task_id(spec, rt),
        "--input-paths", compress(paths),
    ]
    if split_index is not None:
        argv += ["--split-index", str(split_index)]
    argv += ["--retry-count", str(int(rt.attempt)), "--max-user-code-retries", str(user_code_retries(spec, rt))]
    argv += _tags(spec)
    if rt.origin_run:
        argv += ["--clone-run-id", rt.origin_run]  # current.origin_run_id, as a local resume sets it
    if spec.get("namespace"):
        argv += ["--namespace", spec["namespace"]]
    return Command(argv, env, files)


# Metaflow keeps at most this many attempts of a task (metaflow_config.MAX_ATTEMPTS).
MAX_ATTEMPTS = 6


def user_code_retries(spec: Mapping[str, Any], rt: RuntimeValues) -> int:
    """``--max-user-code-retries`` for this attempt. Within the step's own attempts
    (``attempts``: @retry + @catch + 1) it is the step's. An attempt past them is a
    restart of a task whose retries were exhausted (engines keep counting attempts
    across a restart): it runs the user's code again, as the last user-code attempt, so
    @catch catches it if it fails instead of running the fallback at once."""
    retries = int(spec.get("max_user_code_retries") or 0)
    if rt.attempt >= MAX_ATTEMPTS:
        raise LaunchError("step %s already had %d attempts, the most Metaflow keeps for one task; "
                          "resume into a new run instead" % (spec["step"], rt.attempt))
    if rt.attempt >= int(spec.get("attempts") or 1):
        return int(rt.attempt)
    return retries


def event_params(spec: Mapping[str, Any], rt: RuntimeValues) -> Dict[str, Any]:
    """Trigger-time values, then what the triggering event's payload says: each
    ``@trigger`` maps payload fields to parameters (by parameter name when it gives no
    mapping, as Argo does); the first event naming a parameter wins."""
    internal = set(spec.get("internal_inputs") or ())
    params = {name: value for name, value in rt.params.items() if name not in internal}
    event = rt.event if rt.event else _event_input(spec, rt)
    if not event:
        return params
    taken = set()
    for mapping in spec.get("events") or ():
        pairs = mapping.items() if mapping else ((name, name) for name in spec.get("params") or {})
        for param, fieldname in pairs:
            if param not in taken and fieldname in event:
                params[param] = event[fieldname]
                taken.add(param)
    return params


def _event_input(spec: Mapping[str, Any], rt: RuntimeValues) -> Optional[Mapping[str, Any]]:
    """The event payload when it arrives as one of the run's inputs (``event_input``:
    Kestra's webhook fills a hidden JSON input), as an object or JSON text."""
    value = rt.params.get(spec.get("event_input") or "")
    if isinstance(value, str) and value.strip():
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def input_paths(spec: Mapping[str, Any], rt: RuntimeValues) -> Tuple[List[str], Optional[int]]:
    """The parents of this task as full pathspecs, and ``--split-index`` if any."""
    run = run_id(spec, rt)
    rule = spec["inputs"]
    rule = {"tails": [], **rule}
    kind, tails, path = rule["kind"], rule["tails"], tuple(rt.index_path)
    if spec.get("recursive") and rt.iteration > 0:
        return [_pathspec(run, spec["step"], ids.task_id(path, rt.iteration - 1))], None
    if kind == "params":
        return ["%s/%s/%s" % (run, ids.PARAMS_STEP, ids.PARAMS_TASK_ID)], None
    if kind == "linear":
        return [_resolve(run, tails[0], path, rt)], None
    if kind == "foreach":
        if not path:
            raise LaunchError("step %s starts a foreach body but got no index path" % spec["step"])
        return [_resolve(run, tails[0], path[:-1], rt)], path[-1]
    if kind == "join":
        return [_resolve(run, t, path, rt) for t in tails], None
    if kind == "foreach-join":
        if rt.width is None:
            raise LaunchError("step %s joins a foreach but got no width" % spec["step"])
        return [_resolve(run, tails[0], path + (i,), rt) for i in range(int(rt.width))], None
    raise LaunchError("unknown input rule %r" % kind)


def _resolve(run: str, tail: Mapping[str, Any], path: Tuple[int, ...], rt: RuntimeValues) -> str:
    """A tail at a position -> the pathspec of the task that ended it."""
    if "cases" in tail:
        key = ids.position_key(tail["step"], path)
        chosen = rt.branches.get(key)
        if chosen is None:
            raise LaunchError("no branch reported for switch %s" % key)
        exits = tail.get("exits") or list(tail["cases"])
        if chosen not in exits:
            raise LaunchError("switch %s reported %r, not one of its exits %s" % (key, chosen, sorted(exits)))
        case_tail = (tail.get("cases") or {}).get(chosen)
        if case_tail is not None:
            return _resolve(run, case_tail, path, rt)
    iteration = None
    if tail.get("recursive"):
        key = ids.position_key(tail["step"], path)
        if key not in rt.loops:
            raise LaunchError("no final iteration reported for recursive step %s" % key)
        iteration = int(rt.loops[key])
    return _pathspec(run, tail["step"], ids.task_id(path, iteration))


def _pathspec(run: str, step: str, task: str) -> str:
    return "%s/%s/%s" % (run, step, task)


def param_text(value: Any, kind: str) -> str:
    """A trigger-time value as ``metaflow init`` parses it (JSON parameters as JSON text)."""
    if kind == "JSON":
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _prefix(spec) -> List[str]:
    return [spec.get("python") or sys.executable, spec["flow"]] + list(spec["top"])


def _tags(spec) -> List[str]:
    out: List[str] = []
    for tag in spec.get("tags") or ():
        out += ["--tag", tag]
    return out


def top_option(top: Sequence[str], name: str) -> Optional[str]:
    """``--name=value`` among the spec's top-level options (the last one wins, as in click)."""
    prefix = "--%s=" % name
    found = [o[len(prefix):] for o in top if o.startswith(prefix)]
    return found[-1] if found else None


def _local_sysroot(top: Sequence[str]) -> Dict[str, str]:
    """A local datastore's sysroot as the task's ``--datastore-root`` says. The step writes
    there; Metaflow's local metadata lookups (the card command's, ``metadata()``) read
    METAFLOW_DATASTORE_SYSROOT_LOCAL instead, which on a worker may name another directory."""
    root = top_option(top, "datastore-root")
    if top_option(top, "datastore") != "local" or not root or os.path.basename(root.rstrip("/")) != ".metaflow":
        return {}
    return {"METAFLOW_DATASTORE_SYSROOT_LOCAL": os.path.dirname(root.rstrip("/"))}


def _base_env(spec) -> Tuple[Dict[str, str], Dict[str, str], List[str]]:
    """Task environment, plus the config file and options when the flow has Configs.

    Configs travel in Metaflow's own "config file" mode (what ``run`` does): values are
    materialised in a file and named ``kv.<name>``, so custom parsers are not re-run.
    """
    env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
    env.update(_local_sysroot(spec.get("top") or ()))
    configs = spec.get("configs")
    if not configs:
        return env, {}, []
    values = {name: json.loads(v) if isinstance(v, str) else v for name, v in configs.items()}
    content = json.dumps({"user_configs": values}, sort_keys=True)
    path = os.path.join(".", ".mfo-config-%s.json" % hashlib.sha1(content.encode()).hexdigest()[:12])
    env["METAFLOW_FLOW_CONFIG_VALUE"] = json.dumps({name: "kv." + name for name in sorted(configs)})
    return env, {path: content}, ["--local-config-file", path]
