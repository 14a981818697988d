"""JavaScript expressions (input transforms, iterators, branch and stop conditions) on V8.

Windmill evaluates these with QuickJS (windmill.md §4, `backend/windmill-jseval/src/lib.rs`);
we use a real engine too (V8 through mini-racer) so that any expression a flow author
writes behaves like JavaScript, not like a look-alike interpreter. Names are passed in as
function parameters built from JSON, so no user value is ever pasted into code.
"""
from __future__ import annotations

import json
import threading
from typing import Any, Dict, Mapping, Optional

from py_mini_racer import MiniRacer

# windmill-jseval: EVAL_TIMEOUT_MS = 20 s per expression (windmill.md §4).
EVAL_TIMEOUT_SECONDS = 20.0


class JsError(Exception):
    """An expression failed to parse or threw; the module using it fails with this message."""


def _identifier(name: str) -> bool:
    return name.replace("_", "a").isalnum() and not name[:1].isdigit()


class JsEngine:
    """One V8 isolate shared by the whole emulator; evaluations are serialized by a lock
    because an isolate is single-threaded (a flow's expressions are short)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._racer = MiniRacer()

    def evaluate(self, expr: str, scope: Mapping[str, Any], _shown: Optional[str] = None) -> Any:
        """Evaluate ``expr`` with ``scope`` names bound; ``undefined`` yields ``None``.

        Windmill wraps an expression as the value of a function; what `undefined` turns
        into is not pinned down, we return null (windmill.md §4 [inferred])."""
        names = [n for n in scope if _identifier(n)]
        params = ", ".join(names)
        payload = json.dumps([scope[n] for n in names])
        # The expression is the body's returned value; JSON in and out keeps values plain.
        code = (
            "(function(__args){ const __f = function(%s){ return (\n%s\n); };"
            " const __v = __f.apply(null, __args);"
            " return __v === undefined ? 'null' : JSON.stringify(__v); })(%s)"
            % (params, expr, payload)
        )
        with self._lock:
            try:
                text = self._racer.eval(code, timeout_sec=EVAL_TIMEOUT_SECONDS)
            except Exception as exc:  # mini-racer raises parse, eval and timeout errors
                # worker_flow.rs `transform_input` error text.
                raise JsError("Error during isolated evaluation of expression `%s`:\n%s"
                              % (_shown or expr, _first_line(exc))) from None
        if text is None or not isinstance(text, str):
            return None
        return json.loads(text)

    def truthy(self, expr: str, scope: Mapping[str, Any]) -> bool:
        """`Boolean(expr)`, as worker_flow.rs `compute_bool_from_expr` evaluates branchone,
        stop_after_if and skip_if conditions."""
        return bool(self.evaluate("Boolean(\n%s\n)" % expr, scope, _shown=expr))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    # V8 puts the useful "SyntaxError: ..." / "ReferenceError: ..." line last.
    for line in reversed(lines):
        if "Error" in line:
            return line.strip()
    return lines[0] if lines else type(exc).__name__


def scope_for(flow_input: Dict[str, Any], results: Dict[str, Any], previous_result: Any,
              **extra: Any) -> Dict[str, Any]:
    """The names Windmill puts in scope of a transform (windmill.md §4, `transform_input`)."""
    scope: Dict[str, Any] = {
        "flow_input": flow_input,
        "results": results,
        "previous_result": previous_result,
        "params": {},
    }
    scope.update(extra)
    return scope
