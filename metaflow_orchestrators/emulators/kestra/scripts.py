"""Script tasks on the Process task runner: real subprocesses on this host.

Source: kestra `plugin/core/runner/Process.java` (ProcessBuilder, so the child inherits the
worker's environment, plus the task `env`; working directory per attempt; descendants killed
on interruption), `models/tasks/runners/ScriptService.java` (interpreter + joined commands),
`PluginUtilsService.parseOut` for `::{...}::` lines (kestra.md §3.2, §4).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from typing import FrozenSet, Any, Callable, Dict, List, Optional, Tuple

from . import model as m

# `^::(\{.*})::$` on every stdout and stderr line (kestra.md §4).
OUTPUT_LINE = re.compile(r"^::(\{.*\})::$")

LogFn = Callable[[str, str], None]


class ScriptSpec:
    """A rendered script task, ready to run."""

    def __init__(self, argv: List[str], env: Dict[str, str], workdir: str, files: Dict[str, str],
                 provided: Optional[List[int]] = None, version: int = 1):
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.files = files
        # one "Provided N input(s)." TRACE line per FilesService.inputFiles call, in order
        self.provided = provided or []
        self.version = version
        self.hidden: FrozenSet[str] = frozenset()  # values never handed to a task (the emulator's secrets)


EMULATOR_SETTINGS = ("KESTRA_EMULATOR_USERNAME", "KESTRA_EMULATOR_PASSWORD")  # cli.py's own


def worker_environment(hidden: FrozenSet[str]) -> Dict[str, str]:
    """The Process runner's ProcessBuilder inherits the worker's environment and adds the task's
    (core/src/main/java/io/kestra/plugin/core/runner/Process.java@v1.3.25). The emulator's
    own settings are not a worker's: its credential variables and any variable holding one of
    its secrets (its password) stay out of tasks."""
    return {k: v for k, v in os.environ.items() if k not in EMULATOR_SETTINGS and v not in hidden}


def build_spec(task: Dict[str, Any], render: Callable[..., Any], workdir: str, version: int = 1) -> ScriptSpec:
    """Render the task's dynamic properties as Kestra does, and assemble the command line.

    ``render(value, extra_vars)`` renders once. What is rendered how often (Process runner):
    - `env` keys and values TWICE, both times without `workingDir`: AbstractExecScript.commands renders
      the map, then TaskRunner.env renders the already-rendered map again with renderMap
      (script/io/kestra/plugin/scripts/exec/AbstractExecScript.java@v1.3.34/@v2.0.0,
      core/io/kestra/core/models/tasks/runners/TaskRunner.java@v1.3.34/@v2.0.0 `env`).
    - `commands`, `beforeCommands`, `interpreter` once, with the runner's additional variables
      `workingDir` (+ `outputDir` when `outputDirectory` is on) (CommandsWrapper.renderCommands,
      script/.../runners/CommandsWrapper.java@v1.3.34/@v2.0.0; Process.runnerAdditionalVars@v1.3.34).
    - shell `Script` body once (kestra-io/plugin-scripts plugin-script-shell/.../Script.java@v1.9.8:
      commandsWrapper.render then Property.ofValue, which is never re-rendered, Property.java@v1.3.34).
    - python `Script` body TWICE: rendered into an input file, and CommandsWrapper.run renders every
      input file again (plugin-script-python/.../Script.java@v1.9.8, FilesService.inputFiles@v1.3.34).
    - `inputFiles` (map form) contents once and names twice per FilesService.inputFiles pass: one pass,
      two for python `Script` (PluginUtilsService.transformInputFiles renderMap, then the file name).
    """
    ttype = task["type"]
    extra = {"workingDir": workdir}
    if task.get("outputDirectory") is True:
        extra["outputDir"] = workdir
    before = [str(c) for c in render(task.get("beforeCommands") or [], extra)]
    files: Dict[str, str] = {}
    # FilesService.inputFiles logs "Provided N input(s)." (TRACE) each time it runs
    # (core/io/kestra/core/runners/FilesService.java@v1.3.31/@v2.0.0): CommandsWrapper.run calls it when
    # `inputFiles` is set (script/.../runners/CommandsWrapper.java@v1.3.31/@v2.0.0); python `Script`
    # calls it once more itself, first, even without `inputFiles` (plugin-script-python Script.java@v1.9.8).
    provided: List[int] = []
    for _ in range(2 if ttype == m.PY_SCRIPT else 1):
        # each FilesService.inputFiles pass: transformInputFiles (renderMap: names and contents), then
        # the name once more for the file path
        files = {_text(render(name, extra)): content
                 for name, content in _input_files(task.get("inputFiles") if not files else files,
                                                   render, extra).items()}
    if ttype in (m.PY_SCRIPT, m.SHELL_SCRIPT):
        body = render(task["script"], extra)
        if ttype == m.PY_SCRIPT:
            body = render(body, extra)  # second pass: the script is an input file of CommandsWrapper
            # plugin-scripts python.Script prepends these so rendered JSON literals parse (Script.java@v1.9.8).
            provided = [len(files), len(files) + 1]
            files["script.py"] = "true = True\nfalse = False\nnull = None\n" + body
            commands = ["%s script.py" % _python()]
        else:
            files["script.sh"] = body
            commands = ["/bin/sh script.sh"]
    else:
        commands = [str(c) for c in render(task["commands"], extra)]
    if ttype != m.PY_SCRIPT and task.get("inputFiles") is not None:
        provided = [len(files)]
    interpreter = [str(x) for x in render(task.get("interpreter") or ["/bin/sh", "-c"], extra)]
    if task.get("failFast", True):
        # failFast (default true) prefixes `set -e` whatever the interpreter (a `python3 -c` interpreter
        # then fails on it: failFast: false is needed), only Windows targets get "" instead
        # (CommandsWrapper.getExitOnErrorCommands@v1.3.34; AbstractExecScript.getExitOnErrorCommands@v1.3.31).
        before = ["set -e"] + before
    # ScriptService.scriptCommands: interpreter + one argument joining all lines with "\n".
    argv = interpreter + ["\n".join(before + commands)]
    env: Dict[str, str] = {}
    first = {_text(render(str(k))): _text(render(v)) for k, v in (task.get("env") or {}).items()}
    env.update({_text(render(k)): _text(render(v)) for k, v in first.items()})
    if ttype in (m.PY_SCRIPT, m.PY_COMMANDS):
        # plugin-scripts python tasks add these over the task's env (python/Script.java@v1.9.8
        # `commands.addEnv(env)` after AbstractExecScript.commands `withEnv`).
        env.update({"PYTHONUNBUFFERED": "true", "PIP_ROOT_USER_ACTION": "ignore",
                    "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    env["WORKING_DIR"] = workdir
    if "outputDir" in extra:
        env["OUTPUT_DIR"] = workdir
    return ScriptSpec(argv, env, workdir, files, provided, version)


def _input_files(raw: Any, render: Callable[..., Any], extra: Dict[str, Any]) -> Dict[str, str]:
    """A map (null values dropped) or a string rendered then read as a JSON map
    (core/.../runners/PluginUtilsService.java@v1.3.34 `transformInputFiles`)."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        parsed = json.loads(render(raw, extra))
        return {str(k): _text(v) for k, v in parsed.items()}
    return {_text(render(str(k), extra)): _text(render(v, extra)) for k, v in raw.items() if v is not None}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _env_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _python() -> str:
    # Recent plugin-scripts probe python3 then python (kestra.md §3.2).
    return "python3" if shutil.which("python3") else "python"


def new_workdir(root: str) -> str:
    """A fresh working directory per attempt (kestra.md §3.2, `{{ workingDir }}`)."""
    return tempfile.mkdtemp(prefix="wd-", dir=root)


class ProcessRun:
    """One attempt's subprocess; ``kill()`` is safe from any thread."""

    def __init__(self, spec: ScriptSpec, log: LogFn):
        self.spec = spec
        self.log = log
        self.outputs: Dict[str, Any] = {}
        self.proc: Optional[subprocess.Popen] = None
        self.timed_out = False
        self.killed = False
        self.interrupted: Optional[str] = None  # 2.x Parallel onChildFailure target state

    def start(self) -> None:
        for name, text in self.spec.files.items():
            path = os.path.normpath(os.path.join(self.spec.workdir, name))
            if not path.startswith(self.spec.workdir + os.sep):
                raise OSError("input file %r escapes the working directory" % name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)
        env = worker_environment(self.spec.hidden)
        env.update(self.spec.env)
        self.proc = subprocess.Popen(
            self.spec.argv, cwd=self.spec.workdir, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def wait(self, timeout: Optional[float]) -> int:
        """Pump output and wait; on timeout kill the whole process group (Process.killDescendantsOf)."""
        assert self.proc is not None
        pumps = [threading.Thread(target=self._pump, args=(s, lvl), daemon=True)
                 for s, lvl in ((self.proc.stdout, "INFO"), (self.proc.stderr, "ERROR"))]
        for t in pumps:
            t.start()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.kill()
            code = self.proc.wait()
        for t in pumps:
            t.join(5)
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _pump(self, stream: Any, level: str) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not self._parse_output(line):
                # stdout → INFO, stderr → ERROR (PluginUtilsService.parseOut); since 0.23 stderr
                # no longer changes the task state (kestra.md §1).
                self.log(level, line)
        stream.close()

    def _parse_output(self, line: str) -> bool:
        match = OUTPUT_LINE.match(line.strip())
        if not match:
            return False
        try:
            data = json.loads(match.group(1))
        except ValueError:
            self.log("WARN", "Invalid outputs '%s'" % line)  # invalid JSON: warn and drop (kestra.md §4)
            return True
        if isinstance(data, dict) and isinstance(data.get("outputs"), dict):
            self.outputs.update(data["outputs"])  # putAll: later lines override (kestra.md §4)
        for entry in (data.get("logs") or []) if isinstance(data, dict) else []:
            # `logs` entries are logged at their level (PluginUtilsService.parseOut); metrics are dropped.
            if isinstance(entry, dict):
                self.log(str(entry.get("level", "INFO")).upper(), str(entry.get("message", "")))
        return True


def run_attempt(spec: ScriptSpec, log: LogFn, timeout: Optional[float],
                register: Callable[[Optional[ProcessRun]], None]) -> Tuple[str, Dict[str, Any]]:
    """Run one attempt; returns (attempt state, task outputs `{vars, exitCode}`)."""
    run = ProcessRun(spec, log)
    for count in spec.provided:
        log("TRACE", "Provided %d input(s)." % count)
    try:
        run.start()
    except OSError as exc:
        log("ERROR", "Unable to start process: %s" % exc)
        return "FAILED", {"vars": {}, "exitCode": -1}
    # The Process runner's own lines (core/io/kestra/plugin/core/runner/Process.java@v1.3.31/@v2.0.0 `run`).
    log("DEBUG", "Starting command with pid %d [%s]" % (run.proc.pid, " ".join(spec.argv)))
    register(run)
    try:
        code = run.wait(timeout)
    finally:
        register(None)
    # ScriptOutput: vars always present (kestra.md §3.2); no output file is ever declared here.
    outputs = {"vars": run.outputs, "exitCode": code, "outputFiles": {}}
    # What the worker logs of a failed attempt: AbstractWorkerCallable.exceptionHandler
    # `logger.error(e.getMessage(), e)` (worker/.../AbstractWorkerCallable.java@v1.3.31, .../processors/
    # internals/AbstractWorkerCallable.java@v2.0.0): the message, the cause's message, then the stack
    # trace at TRACE (1.x) / DEBUG (2.x), here only its first line.
    stack = "TRACE" if spec.version < 2 else "DEBUG"
    if run.interrupted:
        return run.interrupted, outputs
    if run.killed:
        return "KILLED", outputs
    if run.timed_out:
        # Process.run catches the interruption (WARN), TimeoutExceededException formats the duration
        # HH:mm:ss.SSS (core/.../exceptions/TimeoutExceededException.java@v1.3.31).
        message = "Timeout after %s" % _hms(timeout or 0)
        log("WARN", "Killing process %d for InterruptedException" % run.proc.pid)
        log("ERROR", message)
        log(stack, "io.kestra.core.exceptions.TimeoutExceededException: " + message)
        return "FAILED", outputs
    # FilesService.outputFiles runs after the command either way (CommandsWrapper.run@v1.3.31/@v2.0.0).
    if code != 0:
        failed = "io.kestra.core.models.tasks.runners.TaskException: Command failed with exit code %d" % code
        log("TRACE", "Captured 0 output file(s).")
        log("ERROR", failed)
        log("ERROR", "Command failed with exit code %d" % code)
        log(stack, "io.kestra.core.models.tasks.RunnableTaskException: " + failed)
        return "FAILED", outputs
    log("DEBUG", "Command succeed with exit code 0")
    log("TRACE", "Captured 0 output file(s).")
    return "SUCCESS", outputs


def _hms(seconds: float) -> str:
    """DurationFormatUtils.formatDurationHMS: HH:mm:ss.SSS."""
    millis = int(round(seconds * 1000))
    return "%02d:%02d:%02d.%03d" % (millis // 3600000, millis // 60000 % 60, millis // 1000 % 60, millis % 1000)
