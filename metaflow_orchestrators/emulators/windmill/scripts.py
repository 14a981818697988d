"""Run one rawscript job (bash or python3) as a real subprocess, the way a Windmill worker does.

Sources: windmill.md §5 (`bash_executor.rs`, `windmill-parser-bash/src/lib.rs`,
`common.rs raw_to_string`) and §6 (`variables.rs`, cleared environment).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

# windmill-parser-bash/src/lib.rs: arguments are lines `NAME="$1"`, `NAME="${2}"`,
# `NAME="${3:-default}"` at column 0 (windmill.md §5.2).
BASH_ARG_RE = re.compile(
    r'^(\w+)="\$(?:(\d+)|\{(\d+)\}|\{(\d+):-(.*)\})"(?:[\t ]*)?(?:#.*)?\r?$', re.MULTILINE)
# windmill-parser-bash: at most 19 positional arguments are scanned.
MAX_BASH_ARGS = 19

SUPPORTED_LANGUAGES = ("bash", "python3")


class ScriptFailure(Exception):
    """The job failed; ``error`` is the Windmill error object that becomes its result."""

    def __init__(self, error: Dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.error = error


@dataclass
class ScriptRun:
    """Everything a worker needs to run one job."""

    language: str
    content: str
    args: Dict[str, Any]
    env: Dict[str, str]
    job_dir: str
    timeout: Optional[float] = None


class ProcessHandle:
    """Lets the engine kill a running job (cancel) from another thread."""

    def __init__(self) -> None:
        self._proc: Optional[subprocess.Popen] = None
        self._killed_reason: Optional[str] = None
        self._lock = threading.Lock()

    def attach(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._proc = proc
            if self._killed_reason is not None:
                _kill_group(proc)

    def kill(self, reason: str) -> None:
        with self._lock:
            self._killed_reason = reason
            if self._proc is not None:
                _kill_group(self._proc)

    @property
    def killed_reason(self) -> Optional[str]:
        return self._killed_reason


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def bash_arg_names(content: str) -> List[str]:
    """Declared positional argument names, contiguous from ``$1`` (windmill-parser-bash:
    the scan stops at the first missing position)."""
    by_position: Dict[int, str] = {}
    for match in BASH_ARG_RE.finditer(content):
        digits = match.group(2) or match.group(3) or match.group(4)
        by_position.setdefault(int(digits), match.group(1))
    names: List[str] = []
    for position in range(1, MAX_BASH_ARGS + 1):
        if position not in by_position:
            break
        names.append(by_position[position])
    return names


def raw_to_string(value: Any) -> str:
    """common.rs `raw_to_string`: a JSON string is passed raw, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def bash_argv(content: str, args: Mapping[str, Any]) -> List[str]:
    """Positional values by declared name; a missing arg is the empty string (bash_executor.rs)."""
    return [raw_to_string(args[name]) if name in args else "" for name in bash_arg_names(content)]


def last_line(text: str) -> str:
    """`tail -1` of the combined stream, trimmed (bash_executor.rs wrapper.sh)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines[-1].strip() if lines else ""


def bash_result(job_dir: str, output: str) -> Any:
    """Result rules, first match wins (windmill.md §5.3): result.json parsed, result.out as
    a string, else the last output line as a string."""
    result_json = _read_nonempty(os.path.join(job_dir, "result.json"))
    if result_json is not None:
        try:
            return json.loads(result_json)
        except ValueError as exc:
            raise ScriptFailure(_error("ExecutionErr", "result.json is not valid JSON: %s" % exc))
    result_out = _read_nonempty(os.path.join(job_dir, "result.out"))
    if result_out is not None:
        return result_out
    return last_line(output)


def _read_nonempty(path: str) -> Optional[str]:
    """The file's text if it has at least one byte (bash_executor.rs checks `metadata.len() > 0`)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    return text if text else None


def _error(name: str, message: str, stack: Optional[str] = None) -> Dict[str, Any]:
    error: Dict[str, Any] = {"name": name, "message": message}
    if stack:
        error["stack"] = stack
    return error


# Runs `main` from main.py and writes its JSON result (windmill.md §5.4). Like the generated
# wrapper (python_executor.rs@v1.788.0 `compute_py_codegen`): a `**kwargs` signature gets every
# argument; otherwise only the parameters `main` declares, each `kwargs.get(name)` (None when not
# given), dropped when None and the parameter has a default; '<function call>' values dropped.
# The error object mirrors the wrapper's: message, name, stack (frames after the wrapper's
# own), extra (the exception's attributes).
PYTHON_WRAPPER = """\
import inspect, json, sys, traceback
sys.path.insert(0, '.')
with open('args.json') as f:
    kwargs = json.load(f)
try:
    import main as user_module
    params = inspect.signature(user_module.main).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        args = dict(kwargs)
    else:
        args = {}
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
                continue
            args[p.name] = kwargs.get(p.name)
            if args[p.name] is None and p.default is not p.empty:
                del args[p.name]
    args = {k: v for k, v in args.items() if v != '<function call>'}
    result = user_module.main(**args)
    with open('result.json', 'w') as f:
        json.dump(result, f)
except BaseException as e:
    tb = traceback.format_tb(sys.exc_info()[2])
    err = {'message': str(e), 'name': e.__class__.__name__, 'stack': '\\n'.join(tb[1:])}
    if getattr(e, '__dict__', None):
        err['extra'] = e.__dict__
    with open('error.json', 'w') as f:
        json.dump(err, f, default=str)
    sys.exit(1)
"""


def run_script(run: ScriptRun, handle: ProcessHandle, log_sink: Any) -> Any:
    """Run the job to completion and return its result, or raise :class:`ScriptFailure`."""
    os.makedirs(run.job_dir, exist_ok=True)
    # The worker's log header before the script output (bash_executor.rs / python_executor.rs).
    header = "\n\n--- %s CODE EXECUTION ---\n" % ("BASH" if run.language == "bash" else "PYTHON")
    if run.language == "bash":
        argv = _prepare_bash(run)
    elif run.language == "python3":
        argv = _prepare_python(run)
    else:
        raise ScriptFailure(_error("ExecutionErr", "language %r is not executed by this emulator"
                                   % run.language))
    exit_code, output = _execute(argv, run, handle, lambda text, final: log_sink(header + text, final))
    if handle.killed_reason is not None:
        raise ScriptFailure(_error("Canceled" if "cancel" in handle.killed_reason else "ExecutionErr",
                                   handle.killed_reason))
    if run.language == "python3":
        return _python_result(run.job_dir, exit_code, output)
    if exit_code != 0:
        raise ScriptFailure(bash_exit_error(run.job_dir, header + output, exit_code))
    return bash_result(run.job_dir, output)


class ScriptError(dict):
    """A job error given verbatim by the script (its non-empty result.json): stored as
    `{"error": <contents>}` with nothing added."""


ANSI_ESCAPE_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def bash_exit_error(job_dir: str, log: str, exit_code: int) -> Any:
    """A non-zero exit: a non-empty `result.json` IS the error (`read_result`); else the last
    600 characters of the job log after "CODE EXECUTION ---", ANSI-stripped, in
    `SerializedError` (result_processor.rs@v1.788.0 `Error::ExitStatus`, `extract_error_value`;
    the program is "bash run", bash_executor.rs@v1.788.0)."""
    text = _read_nonempty(os.path.join(job_dir, "result.json"))
    if text is not None:
        try:
            return ScriptError(value=json.loads(text))
        except ValueError:
            pass  # read_result fails on invalid JSON: `.ok()` drops it, the log text is used
    tail = log[-600:].split("CODE EXECUTION ---")[-1]
    message = 'exit code for "bash run": %d, last log lines:\n%s' % (exit_code, ANSI_ESCAPE_RE.sub("", tail.strip()))
    return dict(_error("ExecutionErr", message), exit_code=exit_code)


def _prepare_bash(run: ScriptRun) -> List[str]:
    """bash_executor.rs writes main.sh = "set -e\n" + content and creates empty result.json,
    result.out and result2.out before running."""
    with open(os.path.join(run.job_dir, "main.sh"), "w", encoding="utf-8") as handle:
        handle.write("set -e\n" + run.content)
    for name in ("result.json", "result.out", "result2.out"):
        open(os.path.join(run.job_dir, name), "w").close()
    return [bash_binary(), "./main.sh"] + bash_argv(run.content, run.args)


def bash_binary() -> str:
    """bash_executor.rs BIN_BASH: `$BASH_PATH` or /bin/bash (not looked up on the job PATH)."""
    configured = os.environ.get("BASH_PATH")
    if configured:
        return configured
    return "/bin/bash" if os.path.exists("/bin/bash") else (shutil.which("bash") or "bash")


def _prepare_python(run: ScriptRun) -> List[str]:
    with open(os.path.join(run.job_dir, "main.py"), "w", encoding="utf-8") as handle:
        handle.write(run.content)
    with open(os.path.join(run.job_dir, "wrapper.py"), "w", encoding="utf-8") as handle:
        handle.write(PYTHON_WRAPPER)
    with open(os.path.join(run.job_dir, "args.json"), "w", encoding="utf-8") as handle:
        json.dump(run.args, handle)
    return [sys.executable, "-u", "wrapper.py"]


def _python_result(job_dir: str, exit_code: int, output: str) -> Any:
    error_text = _read_nonempty(os.path.join(job_dir, "error.json"))
    if error_text is not None:
        raise ScriptFailure(json.loads(error_text))
    if exit_code != 0:
        raise ScriptFailure(_error("ExecutionErr", "ExitCode: %d, last log lines:\n%s"
                                   % (exit_code, last_line(output))))
    text = _read_nonempty(os.path.join(job_dir, "result.json"))
    return json.loads(text) if text is not None else None


def _execute(argv: List[str], run: ScriptRun, handle: ProcessHandle, log_sink: Any) -> "tuple[int, str]":
    """Run with stdout+stderr combined (wrapper.sh `2>&1 | tee`) into the job log."""
    # Beside the job directory, so the script never sees the emulator's own file.
    log_path = run.job_dir.rstrip(os.sep) + ".log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(argv, cwd=run.job_dir, env=run.env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        handle.attach(proc)
        exit_code = _wait(proc, run.timeout, handle, log_path, log_sink)
    with open(log_path, encoding="utf-8", errors="replace") as src:
        output = src.read()
    log_sink(output, final=True)
    return exit_code, output


def _wait(proc: subprocess.Popen, timeout: Optional[float], handle: ProcessHandle,
          log_path: str, log_sink: Any) -> int:
    """Wait, streaming the log for live `get_logs`, and kill the group on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    ticks = 0
    while True:
        try:
            return proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            ticks += 1
        if ticks % 10 == 0:
            log_sink(_read_text(log_path), final=False)
        if deadline is not None and time.monotonic() > deadline:
            # windmill.md §7.1: on expiry the job is killed and fails.
            handle.kill("Job timed out after %ss" % _fmt_seconds(timeout))
            proc.wait()
            return proc.returncode


def _fmt_seconds(value: Optional[float]) -> str:
    return ("%d" % value) if value is not None and float(value).is_integer() else str(value)


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""
