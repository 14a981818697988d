"""The bash bodies of our rawscript modules: fixed text, built only from our own names.

Windmill binds a bash script's arguments by name from the module's input transforms,
through lines ``NAME="${N}"`` at column 0, contiguous from ``$1``
(``windmill-parser-bash``; windmill.md §5.2). Every runtime value therefore reaches the
task as an argument; the text of a script never holds a user value, only the names
below and a step name checked to be an identifier (``naming.check_steps``).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional

from ..code_package import DS_VAR, SHA_VAR, URL_VAR, bootstrap_lines

PACKAGE_VARS = (URL_VAR, SHA_VAR, DS_VAR)  # the code package's address (code_package.py)

ENTRY = "metaflow_extensions.orchestrators.plugins.runtime.entry"
PYTHON_ARG = "MFO_PYTHON"
# The task entry reads these from the environment (runtime/entry.py _OPTIONS).
TASK_ARGS = ("MFO_PYTHON", "MFO_FLOW", "MFO_STEP", "MFO_EXECUTION_ID", "MFO_ORIGIN_RUN", "MFO_INDEX_PATH",
             "MFO_ITERATION", "MFO_WIDTH", "MFO_BRANCHES", "MFO_LOOPS", "MFO_PARAMS", "MFO_INIT",
             "MFO_FINISH") + PACKAGE_VARS
MAX_ARGS = 19  # windmill-parser-bash stops after $19
FACTS_ARG = "MFO_REPORTS"


def declare(names: Iterable[str]) -> List[str]:
    names = list(names)
    if len(names) > MAX_ARGS:
        raise ValueError("a Windmill bash script takes at most %d arguments" % MAX_ARGS)
    unknown = [n for n in names if n not in TASK_ARGS + (FACTS_ARG,)]
    if unknown:
        raise ValueError("not a task argument: %s" % unknown)
    # Braced: bash reads "$10" as "$1" followed by "0" (windmill-parser-bash accepts both forms).
    return ['%s="${%d}"' % (name, i) for i, name in enumerate(names, 1)]


def task_script(names: Iterable[str], step: str, starts_run: bool = False, ends_run: bool = False) -> str:
    """A step: export the arguments and exec the task entry for ``step``. The first step's
    module also starts the run: its parent job is the flow itself, so WM_FLOW_JOB_ID is the
    id of this run's root flow job (variables.rs: "Job id of the encapsulating flow"); the
    module reports it and every later module reads it from this module's result. The end
    step's module also ends it (starts the flows deployed with @trigger_on_finish on it)."""
    title = "Metaflow %sstep %s%s" % ("run start and " if starts_run else "", step,
                                      " and run end" if ends_run else "")
    from_env = {"MFO_EXECUTION_ID": "WM_FLOW_JOB_ID"} if starts_run else None
    return _task(names, title, "--step %s" % step, from_env)


def _task(names: Iterable[str], title: str, flag: str, from_env: Optional[Dict[str, str]] = None) -> str:
    """``from_env``: task variables taken from Windmill's job variables, not arguments."""
    names = list(names)
    from_env = from_env or {}
    exported = [n for n in names if n != PYTHON_ARG] + list(from_env)
    lines = ["# %s: runs through the metaflow-orchestrators task entry." % title,
             "# Every value below is an input of this module (see its inputs)."]
    lines += declare(names)
    lines += ['%s="$%s"' % (name, var) for name, var in from_env.items()]
    lines.append("export %s" % " ".join(exported))
    if URL_VAR in names:
        lines += bootstrap_lines()
    lines.append('exec "$%s" -m %s %s' % (PYTHON_ARG, ENTRY, flag))
    return "\n".join(lines) + "\n"


def facts_script() -> str:
    """The last module of a foreach iteration whose body holds switches: its result
    (the iteration's result) is the reports of those switch steps, which the join reads
    from the loop's result (a parallel iteration's modules are out of the parent's reach:
    it is its own innermost root, worker_flow.rs@1.788.0)."""
    lines = ["# The switch reports of this foreach iteration, for the join after the loop."]
    lines += declare([FACTS_ARG])
    lines.append("printf '%%s' \"$%s\" > result.json" % FACTS_ARG)
    return "\n".join(lines) + "\n"


def no_case_script(step: str) -> str:
    """A switch's ``default`` branch: reached only if the step reported a branch the
    flow does not have, which must fail the run loudly."""
    return ("echo 'switch step %s reported a branch that is not one of its cases' >&2\nexit 1\n" % step)
