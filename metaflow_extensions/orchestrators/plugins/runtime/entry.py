"""``python -m metaflow_extensions.orchestrators.plugins.runtime.entry``: the task entry.

Reads the spec and the engine's runtime scalars (from options or ``MFO_*`` variables),
builds the command with the launcher and runs it as ONE process: the flow file is run
in this interpreter exactly as ``python flow.py <args>`` would run it (``__main__``,
``sys.argv``, ``sys.path[0]``), because a second interpreter start alone costs more than
5 % of a task. Only when the spec names another interpreter (e.g. a conda environment)
is the command ``exec``ed instead.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import cards, environments, ids, in_process, reporter, resume, task_logs, windmill
from .launcher import (Command, LaunchError, RuntimeValues, assemble, build_command, decode_spec, own_task_id,
                       run_id, top_option)

_OPTIONS = {
    # option: (environment variable, help)
    "spec": ("MFO_SPEC", "the whole spec written by the compiler (JSON, or base64 of it)"),
    "flow-spec": ("MFO_FLOW", "the spec part every task shares (JSON or base64); with --task-spec"),
    "task-spec": ("MFO_STEP", "this task's own spec part (JSON or base64); with --flow-spec"),
    "init-spec": ("MFO_INIT", "the first step's task also starts the run: the init's spec part (JSON or base64); "
                  "with --flow-spec and --task-spec"),
    "finish-spec": ("MFO_FINISH", "Windmill: the end step's task also ends the run, once the step succeeded: starts the "
                    "flows deployed with @trigger_on_finish on it (JSON {flow_name, deployed_name})"),
    "execution-id": ("MFO_EXECUTION_ID", "engine execution / job id (gives the run id)"),
    "index-path": ("MFO_INDEX_PATH", "foreach indices, outermost first: '2.0' or '[2, 0]'"),
    "iteration": ("MFO_ITERATION", "iteration of a recursive switch step"),
    "attempt": ("MFO_ATTEMPT", "0-based attempt number"),
    "width": ("MFO_WIDTH", "foreach join: number of splits"),
    "branches": ("MFO_BRANCHES", "JSON {position key: step taken} reported by switch steps, or any JSON "
                 "holding such maps under a \"branches\" key (engine outputs as they render)"),
    "loops": ("MFO_LOOPS", "JSON {position key: last iteration} of recursive switch steps (same forms)"),
    "params": ("MFO_PARAMS", "init: JSON {parameter name: value} (or base64 of it); 'windmill:flow-input' reads "
               "the run's input from the Windmill flow job"),
    "event": ("MFO_EVENT", "init: JSON payload of the event that triggered the run"),
    "resume": ("MFO_RESUME", "init: the run's labels as JSON (or base64 of it); metaflow-origin-run etc. make "
               "the run a resume of another (runtime/resume.py)"),
    "origin-run": ("MFO_ORIGIN_RUN", "step: the run this run resumes (empty: not a resume)"),
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mfo-task", description=__doc__)
    for name, (env, help_text) in _OPTIONS.items():
        parser.add_argument("--" + name, default=os.environ.get(env), type=_value,
                            help="%s (env %s; '@FILE' reads it from FILE)" % (help_text, env))
    parser.add_argument("--step", help="the step this task runs: checked against the spec (it makes the "
                        "engine's command line say what the task runs)")
    parser.add_argument("--init", action="store_true", help="this task is the run's init task (checked)")
    parser.add_argument("--dry-run", action="store_true", help="print the command as JSON instead of running it")
    return parser.parse_args(argv)


def _value(text: Optional[str]) -> Optional[str]:
    """``@FILE``: the value is FILE's content. Large values (a run's inputs) travel in a file
    the engine writes into the task's directory: a process argument or environment variable
    is limited to 128 KiB by the kernel. No value we pass starts with ``@`` otherwise (JSON,
    base64, numbers, index paths)."""
    if text is not None and text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as handle:
                return handle.read()
        except OSError as ex:
            raise ValueError("cannot read %s: %s" % (text[1:], ex.strerror or ex))
    return text


def runtime_values(args: argparse.Namespace) -> RuntimeValues:
    if not args.execution_id:
        raise LaunchError("no execution id (--execution-id or MFO_EXECUTION_ID)")
    labels = _json(args.resume)
    if args.params == windmill.FLOW_INPUT:
        params = windmill.flow_input()
        # On Windmill a resume request is a run argument, not a parameter (Kestra: labels).
        labels = params.pop(resume.RUN_ARG, None) or labels
    else:
        params = _json(args.params)
    return RuntimeValues(
        execution_id=args.execution_id,
        index_path=ids.parse_index_path(args.index_path),
        iteration=_int(args.iteration),
        attempt=_int(args.attempt),
        width=None if args.width in (None, "") else int(args.width),
        branches=collect_positions(args.branches, "branches", str),
        loops=collect_positions(args.loops, "loops", int),
        params=params,
        event=_event(args.event),
        resume=resume.ResumeRequest.from_labels(labels if isinstance(labels, dict) else None),
        origin_run=resume.origin_of(args.origin_run),
    )


def _int(text: Optional[str]) -> int:
    return int(text) if text not in (None, "") else 0


def _json(text: Optional[str]) -> Dict:
    """A JSON object, given as JSON text or base64 of it (engines that encode values on
    render, so no user text is ever re-read as a template)."""
    if text in (None, ""):
        return {}
    value = decode_spec(text)
    if not isinstance(value, dict):
        raise LaunchError("expected a JSON object, got %r" % text)
    return value


def collect_positions(text: Optional[str], key: str, kind: type) -> Dict[str, Any]:
    """Position-keyed facts from whatever an engine rendered: a flat map, a list of maps,
    or outputs trees (Kestra value-keyed ForEach outputs, Loop outputs) holding such maps
    under ``key``; JSON text inside is decoded. Position keys are unique, so merging
    everything found is safe."""
    found: Dict[str, Any] = {}
    if text not in (None, ""):
        _collect(json.loads(text), key, kind, True, found)
    return found


def _collect(value: Any, key: str, kind: type, direct: bool, found: Dict[str, Any]) -> None:
    if isinstance(value, str):
        if value[:1] in ("{", "["):
            _collect(json.loads(value), key, kind, direct, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, key, kind, direct, found)
    elif isinstance(value, dict):
        for name, item in value.items():
            if direct and type(item) is kind:
                found[name] = item
            else:
                _collect(item, key, kind, name == key, found)


def _event(text: Optional[str]) -> Optional[Dict]:
    if text in (None, "", "null"):
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


def write_files(files: Dict[str, str]) -> None:
    for path, content in files.items():
        tmp = "%s.%d.tmp" % (path, os.getpid())
        with open(tmp, "w") as f:
            f.write(content)
        os.replace(tmp, path)


def read_spec(args: argparse.Namespace) -> Dict[str, Any]:
    """The spec, whole (``MFO_SPEC``) or in its two parts, checked against what the
    command line says the task runs."""
    if args.flow_spec and args.task_spec:
        spec = assemble(decode_spec(args.flow_spec), decode_spec(args.task_spec))
    elif args.spec:
        spec = decode_spec(args.spec)
    else:
        raise LaunchError("no spec (--spec / MFO_SPEC, or --flow-spec and --task-spec / MFO_FLOW and MFO_STEP)")
    if args.step and spec.get("step") != args.step:
        raise LaunchError("the command runs step %r but the spec is for %r" % (args.step, spec.get("step")))
    if args.init and spec.get("kind") != "init":
        raise LaunchError("the command runs the init task but the spec is for step %r" % spec.get("step"))
    return in_package(spec, os.environ.get("METAFLOW_EXTRACTED_ROOT"))


def read_init_spec(args: argparse.Namespace, spec: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The init's whole spec when this task, the first step's, also starts the run (``MFO_INIT``)."""
    if not args.init_spec:
        return None
    if spec.get("kind") != "step" or not args.flow_spec:
        raise LaunchError("--init-spec goes with a step's --flow-spec and --task-spec")
    init = assemble(decode_spec(args.flow_spec), decode_spec(args.init_spec))
    if init.get("kind") != "init":
        raise LaunchError("--init-spec is not an init spec (kind %r)" % init.get("kind"))
    return in_package(init, os.environ.get("METAFLOW_EXTRACTED_ROOT"))


def read_finish_spec(args: argparse.Namespace, spec: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """What the end step's task needs to end the run (``MFO_FINISH``), checked before the
    step runs: a task that could not start the waiting flows must not run the step first."""
    if not args.finish_spec:
        return None
    finish = decode_spec(args.finish_spec)
    if spec.get("kind") != "step" or spec.get("engine") != "windmill":
        raise LaunchError("--finish-spec goes with a Windmill step's spec")
    if not isinstance(finish.get("deployed_name"), str) or not isinstance(finish.get("flow_name"), str):
        raise LaunchError("--finish-spec needs the flow's flow_name and deployed_name")
    return finish


def in_package(spec: Dict[str, Any], root: Optional[str]) -> Dict[str, Any]:
    """A flow shipped as a code package is named relative to the package, which the task's
    command unpacked at ``root`` (code_package.bootstrap_lines)."""
    flow = spec.get("flow")
    if root and flow and not os.path.isabs(flow):
        spec = dict(spec, flow=os.path.join(root, flow))
    return spec


def main(argv: Optional[List[str]] = None) -> int:
    in_process.end_cheaply()
    args = parse_args(argv)
    try:
        spec = read_spec(args)
        if args.attempt in (None, ""):
            args.attempt = engine_attempt(spec)
        rt = runtime_values(args)
        init_spec = read_init_spec(args, spec)
        if init_spec is not None:  # the run this task starts resumes another one, if any
            rt = replace(rt, origin_run=resume.origin_of(rt.resume.origin_run_id if rt.resume else None))
        init = build_command(init_spec, rt) if init_spec is not None else None
        finish = read_finish_spec(args, spec)
        command: Command = build_command(spec, rt)
    except (LaunchError, ValueError, KeyError, windmill.WindmillLookupError, resume.ResumeError) as ex:
        return cannot_start(ex)
    if args.dry_run:
        shown: Dict[str, Any] = {"argv": command.argv, "env": command.env, "files": sorted(command.files)}
        if init is not None:
            shown["init"] = {"argv": init.argv, "env": init.env, "files": sorted(init.files)}
        print(json.dumps(shown))
        return 0
    if finish is not None:
        try:
            windmill.check_flow_step(os.environ, windmill.FINISH_REQUIRED)
        except windmill.WindmillLookupError as ex:
            return cannot_start(ex)
    write_files(command.files)
    engine_env = dict(os.environ, MFO_EXECUTION_ID=rt.execution_id)  # what finish_run reads, kept from the pops
    for env_name, _ in _OPTIONS.values():
        os.environ.pop(env_name, None)  # our own plumbing stays out of user code
    if init is not None and init_spec is not None:
        write_files(init.files)
        code = start_run(init, command.env)
        if code != 0:
            return code
        report_init(init_spec, rt)
    os.environ.update(command.env)  # before Metaflow is imported: it reads config at import
    if spec.get("kind") == "step":
        # A retry of the end module whose step had succeeded (the run's end had failed: the
        # flows waiting for it could not be started) only ends the run again.
        done = finish is not None and int(rt.attempt or 0) > 0 and report_recorded(
            spec, rt, lambda pathspec: "Step %s already succeeded in %s: only the run's end runs again."
            % (spec["step"], pathspec))
        code = 0 if done else run_step(command, spec, rt)
        if code == 0 and finish is not None:
            return windmill.finish_run(engine_env, finish)
        return code
    if _same_interpreter(command.argv[0]):
        code = in_process.run_flow(command.argv[1:])
        if code == 0:
            report_init(spec, rt)  # after success: a failed init's result is its error
        return code
    report_init(spec, rt)
    sys.stdout.flush()
    os.execvpe(command.argv[0], command.argv, dict(os.environ))
    return 0  # not reached


def run_step(command: Command, spec: Dict[str, Any], rt) -> int:
    """The step's task, or in a resumed run the report of its clone."""
    if rt.origin_run and report_recorded(
            spec, rt, lambda pathspec: "Task %s was cloned from run %s: not run again." % (pathspec, rt.origin_run)):
        return 0
    if spec.get("conda_env"):
        try:
            command = environments.enter(spec, command, os.getcwd())
        except LaunchError as ex:
            return cannot_start(ex)
        os.environ.update(command.env)
    return run_step_with_logs(command, spec, rt)


def start_run(init: Command, step_env: Dict[str, str]) -> int:
    """Start the run (``metaflow init``, or a resume's clone) in a child forked from this
    process, before the first step runs here: one interpreter start and one import of
    Metaflow (~0.25 s) serve both, where a separate init task paid them again. Metaflow is
    imported before the fork only when the init and the step see the same METAFLOW_*
    settings, which Metaflow reads at import; the child runs in the environment an init
    task would have had, and nothing it sets up stays behind for the step. Run on every
    attempt of the step: ``init`` and a reentrant resume clone rewrite the same records."""
    base = dict(os.environ)
    if _metaflow_settings({**base, **init.env}) == _metaflow_settings({**base, **step_env}):
        os.environ.update(init.env)
        importlib.import_module("metaflow")  # the flow's own import, made once for both
        os.environ.clear()
        os.environ.update(base)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: it must never return into the parent's code
        code = 1
        try:
            os.environ.update(init.env)
            if _same_interpreter(init.argv[0]):
                code = in_process.run_flow(init.argv[1:])
            else:
                code = subprocess.call(init.argv, env=dict(os.environ))
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _metaflow_settings(env: Dict[str, str]) -> Dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("METAFLOW_")}


def cannot_start(ex: Exception) -> int:
    """One line on stderr, exit 2: the task could not start (bad spec or input, no environment)."""
    print("metaflow-orchestrators: cannot start the task: %s" % ex, file=sys.stderr)
    return 2


def run_step_with_logs(command: Command, spec: Dict[str, Any], rt) -> int:
    """The step, its stdout/stderr teed into the Metaflow datastore (task_logs.py), its cards
    written where Metaflow reads them (cards.py)."""
    top = spec.get("top") or ()
    address = task_logs.TaskAddress(
        flow_name=spec["flow_name"], run_id=run_id(spec, rt), step=spec["step"],
        task_id=own_task_id(spec, rt), attempt=int(rt.attempt),
        datastore=top_option(top, "datastore"), datastore_root=top_option(top, "datastore-root"))
    cards.link_datastore(address)
    capture = task_logs.Capture()
    with capture:
        if _same_interpreter(command.argv[0]):
            code = in_process.run_flow(command.argv[1:])
        else:
            code = subprocess.call(command.argv, env=dict(os.environ))
    capture.save(address)
    return code


def report_recorded(spec: Dict[str, Any], rt, note: Callable[[str], str]) -> bool:
    """If this task already has a successful attempt in the run (the run's init cloned it in
    a resumed run; an earlier attempt of it succeeded), report what it recorded instead of
    running the step again, and say so (``note`` of its pathspec)."""
    values = resume.cloned_report(spec, run_id(spec, rt), own_task_id(spec, rt))
    if values is None:
        return False
    print(note(values["pathspec"]))
    reporter.get(spec.get("reporter") or "file")(values)
    return True


def report_init(spec: Dict[str, Any], rt) -> None:
    """The init task's outputs: the run's execution id and run id, which tasks that
    cannot see the root execution's id (2.x Loop iterations nested in another Loop,
    every Windmill module but the first) read from the engine, and the run it resumes
    (empty if none), which Windmill modules read the same way."""
    if spec.get("kind") == "init":
        origin = rt.resume.origin_run_id if rt.resume else ""
        values = {"execution_id": rt.execution_id, "run_id": run_id(spec, rt), "origin_run_id": origin}
        reporter.get(spec.get("reporter") or "file")(values)
        os.environ[reporter.EARLIER_ENV] = json.dumps(values)  # the step's report repeats them


def engine_attempt(spec: Dict[str, Any]) -> Optional[str]:
    """The attempt number when the engine cannot pass it: Windmill keeps it in the flow
    job's status (runtime/windmill.py). Asked only for steps that can be retried: every
    other task runs once, as attempt 0."""
    if spec.get("engine") == "windmill" and spec.get("kind") == "step" and int(spec.get("attempts") or 1) > 1:
        return str(windmill.current_attempt())
    return None


def _same_interpreter(python: str) -> bool:
    return os.path.realpath(python) == os.path.realpath(sys.executable)


if __name__ == "__main__":
    sys.exit(main())
