"""Run a flow file in this interpreter as ``python flow.py <args>`` would, and end the
interpreter without the cost ``python flow.py step`` pays after a task's results are stored.

A second interpreter start alone would cost more than 5 % of a task, so the task entry runs
the flow's module here (``run_flow``). At exit, ``python flow.py`` spends ~60 ms of a task's
~0.3 s of CPU on the interpreter's last garbage collection over everything Metaflow built;
``end_cheaply`` skips it, and first does by hand what that collection did that can matter.
"""
from __future__ import annotations

import _io
import atexit
import gc
import io
import itertools
import os
import sys
import types
from typing import Any, Dict, List

# The flow modules run here, whose globals the exit releases (end_cheaply).
_FLOW_MODULES: List[types.ModuleType] = []


def run_flow(argv: List[str]) -> int:
    """What ``python <flow.py> <args>`` does, minus the interpreter start: the flow file runs
    as a module named ``__main__`` with the names ``runpy.run_path`` gives a script
    (``runpy._run_code``), and ``__main__`` is this process's own again afterwards, as with
    ``runpy``. The module is kept for the exit (``end_cheaply``)."""
    path = os.path.abspath(argv[0])
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(path)
    module = types.ModuleType("__main__")
    module.__dict__.update(_main_tuples(), __file__=argv[0], __cached__=None, __loader__=None, __package__="",
                           __spec__=None)
    with io.open_code(path) as source:
        code = compile(source.read(), argv[0], "exec")
    _FLOW_MODULES.append(module)
    previous = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    except SystemExit as ex:
        return _exit_code(ex.code)
    finally:
        if previous is not None:
            sys.modules["__main__"] = previous
    return 0


def _main_tuples() -> Dict[str, Any]:
    """The named tuples Metaflow put on ``__main__`` if it was imported before the flow runs
    (a resumed run's task looks for its clone first): Metaflow pickles ``ForeachFrame`` as
    ``__main__.ForeachFrame`` (tuple_util.namedtuple_with_defaults), and the flow's own
    ``__main__`` must have it too."""
    main = sys.modules.get("__main__")
    return {name: value for name, value in vars(main).items()
            if isinstance(value, type) and issubclass(value, tuple) and value.__module__ == "__main__"}


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def end_cheaply() -> None:
    """Skip the interpreter's last garbage collection at exit (``_at_exit``). Registered before
    any step code runs, so it runs after every exit handler the step registers (they run
    last-registered first) and after non-daemon threads are joined."""
    atexit.register(_at_exit)


def _at_exit() -> None:
    """What the last collection did that can matter, then freeze the collector so that it
    skips everything. Modules still imported have their globals released by the interpreter
    as usual; the flow's module is no longer imported, and only that collection reached its
    globals, so they are released here as the interpreter releases a module's (a file the
    step left open in one is flushed and closed, a temporary file removed). Open files found
    elsewhere (in reference cycles) are flushed. Other objects held only by reference cycles
    are not finalized, which Python does not promise at exit either."""
    for module in _FLOW_MODULES:
        release_globals(module.__dict__)
    flush_open_files()
    gc.freeze()


def release_globals(names: Dict[str, Any]) -> None:
    """As the interpreter clears a module at exit (``_PyModule_ClearDict``): first the names
    with one leading underscore, then every other name but ``__builtins__``, set to None."""
    for first in (True, False):
        for name in list(names):
            if name == "__builtins__":
                continue
            if not first or (name.startswith("_") and not name.startswith("__")):
                names[name] = None


def flush_open_files() -> None:
    """Write out what the open files in memory still hold in their buffers: text ones first,
    so their pending text reaches the buffer below them. ~5 ms for a task's heap: the heap is
    walked at C speed (map, compress), once per type present, and against the C base every
    file class derives from (``_io._IOBase``): ``io.IOBase`` is an ABC whose first check of
    each of a task's few hundred types costs ~15 ms in all."""
    objects = gc.get_objects()
    kinds = {kind for kind in set(map(type, objects)) if issubclass(kind, _io._IOBase)}
    files = list(itertools.compress(objects, map(kinds.__contains__, map(type, objects))))
    del objects
    files.sort(key=lambda handle: not isinstance(handle, _io._TextIOBase))
    for handle in files:
        try:
            if not handle.closed:
                handle.flush()
        except Exception:  # noqa: BLE001 - as at a collection: a file that cannot be written is dropped
            pass
