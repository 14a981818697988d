"""A strict evaluator for the subset of Pebble that Kestra flows use.

Kestra renders task properties with Pebble in strict mode (kestra.md §5.1, source
`runners/VariableRenderer.java`): an undefined variable or attribute is an error that
fails the task. Everything outside the subset implemented here raises ``PebbleError``
rather than guessing, so a flow that works here does not rely on unknown behaviour.

A rendered value is plain data: it is never re-rendered unless the template calls
``render()`` (kestra.md §2.1, "values are not rendered recursively").
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Callable, Dict, List, Optional, Tuple


class PebbleError(Exception):
    """A template could not be rendered (syntax, unsupported construct, type error)."""


class UndefinedError(PebbleError):
    """Strict lookup failed (source `VariableRenderer`: strictVariables(true))."""


_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>\d+\.\d+|\d+)"
    r"|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\}\}|\?\?\?|\?\?|==|!=|<=|>=|[<>~+\-*/%|.,()\[\]{}:?])"
    r")"
)

# Binary precedences: Pebble `CoreExtension` (or 10, and 15, is 20, comparisons 30, + - 40,
# * / % 60, | 100, ~ 110) and Kestra `pebble/Extension.java` (?? and ??? at 120).
_BINARY = {
    "or": 10, "and": 15, "==": 30, "!=": 30, "<": 30, ">": 30, "<=": 30, ">=": 30,
    "+": 40, "-": 40, "*": 60, "/": 60, "%": 60, "|": 100, "~": 110, "??": 120, "???": 120,
    "is": 20, "contains": 20,
}

_MISSING = object()


def _tokenize(src: str, pos: int) -> Tuple[List[Tuple[str, Any]], int]:
    """Tokens of one `{{ ... }}` body starting at ``pos``; returns them and the index after `}}`."""
    tokens: List[Tuple[str, Any]] = []
    while True:
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            rest = src[pos:].strip()
            if not rest:
                raise PebbleError("Unclosed expression: missing '}}'")
            raise PebbleError("Unexpected character in expression near %r" % rest[:20])
        pos = m.end()
        if m.group("num") is not None:
            text = m.group("num")
            tokens.append(("lit", float(text) if "." in text else int(text)))
        elif m.group("str") is not None:
            tokens.append(("lit", _unquote(m.group("str"))))
        elif m.group("name") is not None:
            tokens.append(("name", m.group("name")))
        else:
            op = m.group("op")
            if op == "}}":
                return tokens, pos
            tokens.append(("op", op))


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    """Precedence-climbing parser producing tuples: ('lit', v), ('var', name), ('attr', obj, name)..."""

    def __init__(self, tokens: List[Tuple[str, Any]]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Tuple[str, Any]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", None)

    def take(self, kind: str, value: Any = None) -> Any:
        tok = self.peek()
        if tok[0] != kind or (value is not None and tok[1] != value):
            raise PebbleError("Expected %s but found %r" % (value or kind, tok[1]))
        self.i += 1
        return tok[1]

    def accept(self, kind: str, value: Any) -> bool:
        if self.peek() == (kind, value):
            self.i += 1
            return True
        return False

    def parse(self) -> tuple:
        if not self.tokens:
            raise PebbleError("Empty expression")
        node = self.ternary()
        if self.peek()[0] != "end":
            raise PebbleError("Unexpected token %r" % (self.peek()[1],))
        return node

    def ternary(self) -> tuple:
        cond = self.binary(0)
        if self.accept("op", "?"):
            yes = self.ternary()
            self.take("op", ":")
            return ("if", cond, yes, self.ternary())
        return cond

    def _binary_op(self) -> Optional[str]:
        kind, value = self.peek()
        if kind == "op" and value in _BINARY:
            return value
        if kind == "name" and value in ("or", "and", "is", "contains"):
            return value
        return None

    def binary(self, min_prec: int) -> tuple:
        left = self.unary()
        while True:
            op = self._binary_op()
            if op is None or _BINARY[op] < min_prec:
                return left
            self.i += 1
            if op == "|":
                left = self.filter(left)
            elif op == "is":
                negate = self.accept("name", "not")
                left = ("test", left, self.take("name"), negate)
            else:
                left = ("bin", op, left, self.binary(_BINARY[op] + 1))

    def filter(self, subject: tuple) -> tuple:
        name = self.take("name")
        args = self.call_args() if self.peek() == ("op", "(") else []
        return ("filter", name, subject, args)

    def unary(self) -> tuple:
        if self.accept("name", "not"):
            # Pebble: unary `not` has precedence 5, so it applies to the whole rest.
            return ("not", self.binary(5))
        if self.accept("op", "-"):
            return ("neg", self.unary())
        return self.postfix(self.primary())

    def call_args(self) -> List[tuple]:
        self.take("op", "(")
        args: List[tuple] = []
        while not self.accept("op", ")"):
            if args:
                self.take("op", ",")
            args.append(self.ternary())
        return args

    def postfix(self, node: tuple) -> tuple:
        while True:
            if self.accept("op", "."):
                kind, value = self.peek()
                if kind not in ("name", "lit"):
                    raise PebbleError("Expected an attribute name after '.'")
                self.i += 1
                node = ("attr", node, str(value))
            elif self.accept("op", "["):
                node = ("index", node, self.ternary())
                self.take("op", "]")
            else:
                return node

    def primary(self) -> tuple:
        kind, value = self.peek()
        self.i += 1
        if kind == "lit":
            return ("lit", value)
        if kind == "name":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value in ("null", "none"):
                return ("lit", None)
            if self.peek() == ("op", "("):
                return ("call", value, self.call_args())
            return ("var", value)
        if (kind, value) == ("op", "("):
            node = self.ternary()
            self.take("op", ")")
            return node
        if (kind, value) == ("op", "["):
            return self.list_literal()
        if (kind, value) == ("op", "{"):
            return self.map_literal()
        raise PebbleError("Unexpected token %r" % (value,))

    def list_literal(self) -> tuple:
        items: List[tuple] = []
        while not self.accept("op", "]"):
            if items:
                self.take("op", ",")
            items.append(self.ternary())
        return ("list", items)

    def map_literal(self) -> tuple:
        pairs: List[Tuple[tuple, tuple]] = []
        while not self.accept("op", "}"):
            if pairs:
                self.take("op", ",")
            key = self.primary()
            self.take("op", ":")
            pairs.append((key, self.ternary()))
        return ("map", pairs)


def to_text(value: Any) -> str:
    """How Pebble prints a value in Kestra: strings raw, maps/lists as JSON (kestra.md §5.1)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return to_json(value)
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


def to_json(value: Any) -> str:
    """JSON as Kestra's mapper writes it: map entries whose value is null are left out
    (``setDefaultPropertyInclusion(NON_NULL)`` applies to map content too,
    core/io/kestra/core/serializers/JacksonMapper.java@v1.3.34/@v2.0.0); list items stay."""
    return json.dumps(without_null_entries(value), separators=(",", ":"), ensure_ascii=False)


def without_null_entries(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_null_entries(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_null_entries(v) for v in value]
    return value


class Renderer:
    """Renders templates against a context; ``version`` selects 1.x/2.x functions (kestra.md §14)."""

    def __init__(self, version: int):
        self.version = version

    # ---- templates -------------------------------------------------------------------
    def render(self, template: str, context: Dict[str, Any]) -> str:
        out: List[str] = []
        pos = 0
        while True:
            start = _next_tag(template, pos)
            if start < 0:
                out.append(template[pos:])
                return "".join(out)
            out.append(template[pos:start])
            pos = self._render_tag(template, start, context, out)

    def _render_tag(self, template: str, start: int, context: Dict[str, Any], out: List[str]) -> int:
        tag = template[start:start + 2]
        if tag == "{#":
            end = template.find("#}", start)
            if end < 0:
                raise PebbleError("Unclosed comment")
            return end + 2
        if tag == "{%":
            return _raw_block(template, start, out)
        tokens, end = _tokenize(template, start + 2)
        out.append(to_text(self.evaluate(_Parser(tokens).parse(), context)))
        return end

    def expression(self, text: str, context: Dict[str, Any]) -> Any:
        """Evaluate a bare expression (no braces) and return the value, not its text."""
        tokens, _ = _tokenize(text + " }}", 0)
        return self.evaluate(_Parser(tokens).parse(), context)

    # ---- evaluation ------------------------------------------------------------------
    def evaluate(self, node: tuple, ctx: Dict[str, Any]) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "var":
            if node[1] not in ctx:
                raise UndefinedError("Unable to find `%s` used in the expression" % node[1])
            return ctx[node[1]]
        if kind in ("attr", "index"):
            return self._lookup(node, ctx)
        if kind == "bin":
            return self._binary(node[1], node[2], node[3], ctx)
        if kind == "not":
            return not _truthy(self.evaluate(node[1], ctx))
        if kind == "neg":
            return -_number(self.evaluate(node[1], ctx))
        if kind == "if":
            return self.evaluate(node[2] if _truthy(self.evaluate(node[1], ctx)) else node[3], ctx)
        if kind == "list":
            return [self.evaluate(n, ctx) for n in node[1]]
        if kind == "map":
            return {to_text(self.evaluate(k, ctx)) if k[0] != "var" else k[1]: self.evaluate(v, ctx)
                    for k, v in node[1]}
        if kind == "filter":
            return self._filter(node[1], self.evaluate(node[2], ctx),
                                [self.evaluate(a, ctx) for a in node[3]])
        if kind == "call":
            return self._call(node[1], node[2], ctx)
        if kind == "test":
            return self._test(node, ctx)
        raise PebbleError("Unsupported expression %r" % (kind,))

    def _lookup(self, node: tuple, ctx: Dict[str, Any]) -> Any:
        base = self.evaluate(node[1], ctx)
        key = node[2] if node[0] == "attr" else self.evaluate(node[2], ctx)
        value = _get(base, key)
        if value is _MISSING:
            raise UndefinedError("Unable to find `%s` used in the expression" % (key,))
        return value

    def _binary(self, op: str, left: tuple, right: tuple, ctx: Dict[str, Any]) -> Any:
        if op in ("??", "???"):
            # Kestra NullCoalescingExpression: right side when left is undefined or null;
            # UndefinedCoalescingExpression (???): only when undefined (kestra.md §5.3).
            try:
                value = self.evaluate(left, ctx)
            except UndefinedError:
                return self.evaluate(right, ctx)
            return self.evaluate(right, ctx) if (value is None and op == "??") else value
        if op == "and":
            return _truthy(self.evaluate(left, ctx)) and _truthy(self.evaluate(right, ctx))
        if op == "or":
            return _truthy(self.evaluate(left, ctx)) or _truthy(self.evaluate(right, ctx))
        a, b = self.evaluate(left, ctx), self.evaluate(right, ctx)
        if op == "~":
            return to_text(a) + to_text(b)
        if op == "contains":
            return b in a if isinstance(a, (list, str, dict)) else False
        return _arith_or_compare(op, a, b)

    def _test(self, node: tuple, ctx: Dict[str, Any]) -> bool:
        name, negate = node[2], node[3]
        if name == "defined":
            try:
                self.evaluate(node[1], ctx)
                result = True
            except UndefinedError:
                result = False
        elif name == "null":
            result = self.evaluate(node[1], ctx) is None
        elif name == "empty":
            value = self.evaluate(node[1], ctx)
            result = value is None or value == "" or value == [] or value == {}
        else:
            raise PebbleError("Unsupported test `is %s`" % name)
        return result != negate

    def _filter(self, name: str, value: Any, args: List[Any]) -> Any:
        if name == "json" and self.version >= 2:
            # 2.x removed the `json` filter (kestra.md §14).
            raise PebbleError("Unknown filter `json` (removed in Kestra 2.0, use `toJson`)")
        fn = _FILTERS.get(name)
        if fn is None:
            raise PebbleError("Unsupported filter `%s` in this emulator" % name)
        return fn(value, *args)

    def _call(self, name: str, arg_nodes: List[tuple], ctx: Dict[str, Any]) -> Any:
        args = [self.evaluate(a, ctx) for a in arg_nodes]
        if name == "fromJson" or (name == "json" and self.version < 2):
            # `json()` is the pre-2.0 name of fromJson (kestra.md §5.3, §14).
            return _from_json(*args)
        if name == "render":
            # render() re-renders a string value against the same context (source `RenderFunction`).
            if not isinstance(args[0], str):
                return args[0]
            return self.render(args[0], ctx)
        if name == "currentEachOutput" and self.version < 2:
            return _current_each_output(args[0], ctx)
        if name == "loopOutputs" and self.version >= 2:
            return _loop_outputs(*args)
        raise PebbleError("Unsupported function `%s` in this emulator" % name)


def _next_tag(template: str, pos: int) -> int:
    found = [i for i in (template.find(t, pos) for t in ("{{", "{%", "{#")) if i >= 0]
    return min(found) if found else -1


_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}")
_ENDRAW = re.compile(r"\{%-?\s*endraw\s*-?%\}")


def _raw_block(template: str, start: int, out: List[str]) -> int:
    """Only `{% raw %}` is supported among tags; any other tag fails loudly."""
    m = _RAW.match(template, start)
    if not m:
        end = template.find("%}", start)
        tag = template[start:end + 2] if end >= 0 else template[start:start + 20]
        raise PebbleError("Unsupported tag %s in this emulator (only {%% raw %%})" % tag)
    e = _ENDRAW.search(template, m.end())
    if not e:
        raise PebbleError("Unclosed {% raw %} block")
    out.append(template[m.end():e.start()])
    return e.end()


def _get(base: Any, key: Any) -> Any:
    if isinstance(base, dict):
        if key in base:
            return base[key]
        if not isinstance(key, str) and to_text(key) in base:
            return base[to_text(key)]
        return _MISSING
    if isinstance(base, (list, str)) and not isinstance(key, bool):
        try:
            index = int(key)
        except (TypeError, ValueError):
            return _MISSING
        return base[index] if -len(base) <= index < len(base) else _MISSING
    return _MISSING


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", [], {})


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(value) if "." in str(value) else int(value)
        except (TypeError, ValueError):
            raise PebbleError("Not a number: %r" % (value,))
    return value


def _arith_or_compare(op: str, a: Any, b: Any) -> Any:
    if op == "==":
        return _loose(a) == _loose(b)
    if op == "!=":
        return _loose(a) != _loose(b)
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        raise PebbleError("'+' on strings is not concatenation in Pebble; use '~'")
    x, y = _number(a), _number(b)
    if op == "/" and isinstance(x, int) and isinstance(y, int):
        if y == 0:
            raise PebbleError("Division by zero")
        return int(x / y)  # Java long division truncates toward zero
    ops: Dict[str, Callable[[Any, Any], Any]] = {
        "<": lambda p, q: p < q, ">": lambda p, q: p > q, "<=": lambda p, q: p <= q,
        ">=": lambda p, q: p >= q, "+": lambda p, q: p + q, "-": lambda p, q: p - q,
        "*": lambda p, q: p * q, "/": lambda p, q: p / q, "%": lambda p, q: p % q,
    }
    return ops[op](x, y)


def _loose(value: Any) -> Any:
    """Pebble compares numbers by value (1 == 1.0) and other values by equals()."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _from_json(value: Any) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError) as exc:
        raise PebbleError("fromJson: invalid JSON %r (%s)" % (value, exc))


def _current_each_output(output: Any, ctx: Dict[str, Any]) -> Any:
    """Walk the outputs down the enclosing values, outermost first, then take this task run's own value
    (core/io/kestra/core/runners/pebble/functions/CurrentEachOutputFunction.java@v1.3.34; gone in 2.0)."""
    if not isinstance(output, dict):
        raise PebbleError("The 'currentEachOutput' function expects an argument 'outputs' with type map.")
    for parent in reversed(ctx.get("parents") or []):
        taskrun = parent.get("taskrun")
        if taskrun is not None:
            if output.get(taskrun.get("value")) is None:
                return None
            output = output[taskrun["value"]]
    return output.get((ctx.get("taskrun") or {}).get("value"))


def _loop_outputs(outputs: Any = None, name: Any = None) -> List[Any]:
    """One declared output across Loop iterations: entry["outputs"][name] (LoopOutputsFunction.java)."""
    if not isinstance(outputs, list):
        raise PebbleError("The 'loopOutputs' function expects 'outputs' to be a list.")
    if not isinstance(name, str):
        raise PebbleError("The 'loopOutputs' function expects 'name' to be a string.")
    return [entry["outputs"].get(name) if isinstance(entry, dict) and isinstance(entry.get("outputs"), dict)
            else None for entry in outputs]


def _escape_char(value: Any, kind: Any = None) -> Any:
    """escapeChar(type): single → ' as \\', double → " as \\", shell → ' as '\\'' on strings, recursively in
    maps and lists (core/io/kestra/core/runners/pebble/filters/EscapeCharFilter.java@v1.3.34/@v2.0.0)."""
    if value is None:
        return None
    if kind is None:
        raise PebbleError("The 'escapeChar' filter expects an argument 'type'.")
    table = {"single": ("'", "\\'"), "double": ('"', '\\"'), "shell": ("'", "'\\''")}
    if str(kind).lower() not in table:
        raise PebbleError("The 'escapeChar' filter expects the value of 'type' to be either 'single', "
                          "'double', or 'shell'.")
    old, new = table[str(kind).lower()]
    if isinstance(value, dict):
        return {k: _escape_char(v, kind) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_char(v, kind) for v in value]
    return to_text(value).replace(old, new)


def _base64encode(value: Any) -> Any:
    """Pebble core `base64encode`: UTF-8 bytes, standard alphabet
    (io/pebbletemplates/pebble/extension/core/Base64EncoderFilter.java@4.1.2, registered by CoreExtension,
    which Kestra's engine keeps)."""
    return None if value is None else base64.b64encode(to_text(value).encode("utf-8")).decode("ascii")


def _base64decode(value: Any) -> Any:
    return None if value is None else base64.b64decode(to_text(value)).decode("utf-8")


def _join(value: Any, sep: str = "") -> str:
    return sep.join(to_text(v) for v in value)


def _length(value: Any) -> int:
    return 0 if value is None else len(value)


_FILTERS: Dict[str, Callable[..., Any]] = {
    # Kestra filters (core/io/kestra/core/runners/pebble/Extension.java@v1.3.34/@v2.0.0 `getFilters`:
    # `json` only in 1.3) and a few Pebble core ones. toJson(null) = "null" (ToJsonFilter.java@v1.3.34).
    "toJson": to_json,
    "escapeChar": _escape_char,
    "base64encode": _base64encode,
    "base64decode": _base64decode,
    "json": to_json,
    "keys": lambda v: list(v.keys()),
    "values": lambda v: list(v.values()),
    "length": _length,
    "upper": lambda v: to_text(v).upper(),
    "lower": lambda v: to_text(v).lower(),
    "trim": lambda v: to_text(v).strip(),
    "join": _join,
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
    "startsWith": lambda v, p: to_text(v).startswith(p),
    "endsWith": lambda v, p: to_text(v).endswith(p),
}


def render_data(renderer: Renderer, value: Any, context: Dict[str, Any]) -> Any:
    """Render every string inside a dict/list structure (each exactly once)."""
    if isinstance(value, str):
        return renderer.render(value, context)
    if isinstance(value, list):
        return [render_data(renderer, v, context) for v in value]
    if isinstance(value, dict):
        return {k: render_data(renderer, v, context) for k, v in value.items()}
    return value


def is_truthy(text: str) -> bool:
    """Kestra truthiness of a rendered condition: false for "false", "0", "-0", ""
    (source utils/TruthUtils.java); used by If, runIf and Fail conditions."""
    # String.trim() first: it strips every char <= U+0020 (TruthUtils.java@v1.3.34/@v2.0.0 `isTruthy`).
    return text is not None and text.strip("".join(chr(c) for c in range(33))) not in ("false", "0", "-0", "")
