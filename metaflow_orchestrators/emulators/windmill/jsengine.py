"""JavaScript expressions (input transforms, iterators, branch and stop conditions) on V8.

Windmill evaluates these with QuickJS (windmill.md §4, `backend/windmill-jseval/src/lib.rs`);
we use a real engine too (V8 through mini-racer) so that any expression a flow author
writes behaves like JavaScript, not like a look-alike interpreter. Names are passed in as
function parameters built from JSON, so no user value is ever pasted into code.
"""
from __future__ import annotations

import atexit
import json
import re
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
    because an isolate is single-threaded (a flow's expressions are short).

    The isolate is made on first use and closed by :meth:`close` (server stop) or at exit:
    left to ``MiniRacer.__del__`` during interpreter finalization, its teardown waits on a
    V8 thread and, on a loaded machine, can hang the process for good."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._racer: Optional[MiniRacer] = None
        atexit.register(self.close)

    def _isolate(self) -> MiniRacer:
        """The isolate, made now if need be (call with the lock held)."""
        if self._racer is None:
            self._racer = MiniRacer()
        return self._racer

    def close(self) -> None:
        """Free the isolate while the interpreter is whole; a later evaluation makes a new one."""
        with self._lock:
            racer, self._racer = self._racer, None
        if racer is not None:
            racer.close()

    def evaluate(self, expr: str, scope: Mapping[str, Any], _shown: Optional[str] = None) -> Any:
        """Evaluate ``expr`` as Windmill does (windmill-jseval/src/lib.rs@v1.788.0,
        windmill-worker/src/js_eval.rs@v1.788.0 `eval_timeout`); ``undefined`` yields ``None``.

        - the trimmed expression naming a context value (``previous_result``, ``result``…) is it;
        - `results.<id>[<n>].<a>.<b>` alone is the SQL fast path (`RE_FULL`, `handle_full_regex`):
          a missing step or key is null;
        - otherwise `results` is a Proxy of promises and every `results.<id>` / `results["<id>"]`
          (double quotes only, `RE`) is rewritten to `(await …)`: `results['a'].x` reads a
          property of a Promise and is null;
        - the code is `return <expr>;` unless it starts with a statement keyword or holds a `;`
          outside strings (`should_add_return_quickjs`): then it is a function body and yields
          null without an explicit `return`.
        """
        expr = expr.strip()
        if expr in scope and expr != "results":
            return scope[expr]
        results = scope.get("results") or {}
        fast = RE_FULL.match(expr)
        if fast and not _ends_with_js_only_property(fast.group(3)):
            return _fast_path(results, fast)
        code = RESULTS_RE.sub(r"(await \1)", expr)
        body = ("return %s;" % code) if _should_add_return(code) else code
        names = [n for n in scope if _identifier(n) and n != "results"]
        payload = json.dumps([scope[n] for n in names])
        program = (
            "(async function(__args, __results){"
            " const results = new Proxy({}, {get: function(t, name) {"
            "  if (typeof name === 'symbol') return undefined;"
            "  if (Object.prototype.hasOwnProperty.call(__results, name)) return Promise.resolve(__results[name]);"
            "  return Promise.reject(new Error('no result for step ' + String(name))); }});"
            " const __f = async function(%s){\n%s\n};"
            " return __f.apply(null, __args); })(%s, %s).then((x) => JSON.stringify(x ?? null))"
            % (", ".join(names), body, payload, json.dumps(results))
        )
        with self._lock:
            try:
                text = self._isolate().eval(program, timeout_sec=EVAL_TIMEOUT_SECONDS)
                if not isinstance(text, str) and hasattr(text, "get"):
                    text = text.get(timeout=EVAL_TIMEOUT_SECONDS)
            except Exception as exc:  # mini-racer raises parse, eval, rejection and timeout errors
                # worker_flow.rs `transform_input` error text.
                raise JsError("Error during isolated evaluation of expression `%s`:\n%s"
                              % (_shown or expr, _first_line(exc))) from None
        if text is None or not isinstance(text, str):
            return None
        return json.loads(text)

    def truthy(self, expr: str, scope: Mapping[str, Any]) -> bool:
        """`Boolean(<expr>)` must evaluate to a boolean, as worker_flow.rs@v1.788.0
        `compute_bool_from_expr` evaluates branchone, stop_after_if and skip_if conditions
        (an expression holding a `;` becomes a body and yields null: an error)."""
        value = self.evaluate("Boolean(%s)" % expr, scope, _shown=expr)
        if not isinstance(value, bool):
            raise JsError("Expected a boolean value, found: %s" % json.dumps(value))
        return value


# windmill-jseval/src/lib.rs@v1.788.0 `RE`, `RE_FULL`, `should_add_return_quickjs`.
RESULTS_RE = re.compile(r'(?m)(results(?:\?)?(?:(?:\.[a-zA-Z_0-9]+)|(?:\[".*?"\])))')
RE_FULL = re.compile(r"(?m)^results(?:\?)?\.([a-zA-Z_0-9]+)(?:\[(\d+)\])?((?:\.[a-zA-Z_0-9]+)+)?$")
STATEMENT_PREFIXES = ("const ", "let ", "var ", "if ", "if(", "for ", "for(", "while ", "while(", "switch ",
                      "switch(", "try ", "try{", "throw ", "function ", "class ", "async ", "await ")
JS_ONLY_PROPERTIES = ("length",)


def _should_add_return(code: str) -> bool:
    trimmed = code.strip()
    if not trimmed:
        return True
    if trimmed.startswith(("return ", "return;")) or trimmed == "return":
        return False
    if trimmed.startswith(STATEMENT_PREFIXES):
        return False
    return not _semicolon_outside_strings(trimmed)


def _semicolon_outside_strings(text: str) -> bool:
    single = double = template = False
    prev = ""
    for ch in text:
        if ch == "'" and prev != "\\" and not double and not template:
            single = not single
        elif ch == '"' and prev != "\\" and not single and not template:
            double = not double
        elif ch == "`" and prev != "\\" and not single and not double:
            template = not template
        elif ch == ";" and not (single or double or template):
            return True
        prev = ch
    return False


def _ends_with_js_only_property(rest: Optional[str]) -> bool:
    return bool(rest) and rest.rsplit(".", 1)[-1] in JS_ONLY_PROPERTIES


def _fast_path(results: Mapping[str, Any], match: "re.Match[str]") -> Any:
    """`get_result_by_id(flow_job, id, "<n>.a.b")`: the JSON path into the step's result, null
    when anything along it is missing."""
    if match.group(1) not in results:
        return None
    value: Any = results[match.group(1)]
    path: list = [int(match.group(2))] if match.group(2) is not None else []
    path += [p for p in (match.group(3) or "").split(".") if p]
    for key in path:
        if isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
            value = value[key]
        elif isinstance(value, list) and isinstance(key, str) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and str(key) in value:
            value = value[str(key)]
        else:
            return None
    return value


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
