"""A corpus of hostile values (issue 18) and the flow that receives them, shared by both
engines' tests: template syntax of both engines (Pebble, JavaScript), shell, YAML and JSON
specials, every control character but NUL (no process can receive NUL: a default holding
one is refused at compile), Unicode line breaks and bidi controls, and long strings.

Every value must reach the step byte for byte on every start path, and none may be
evaluated. To keep this to one run per path, the values travel packed: parameter ``pK``
carries values ``K*PER .. K*PER+PER-1`` joined by a separator that is itself hostile; a
value evaluated or altered anywhere changes its parameter.
"""
from __future__ import annotations

import itertools
from typing import List

FRAGMENTS = [
    "{{ execution.id }}", "{{ inputs }}", "{% raw %}", "{% endraw %}", "{# c #}", "{{", "}}", "{%", "%}",
    "${{ x }}", "${x}", "${ flow_input.a }", "results.a", "`${1+1}`", "'); process.exit(1); ('",
    "$(id)", "`id`", "; rm -rf /", "&& echo pwned", "| cat /etc/passwd", "\\", "\\\\", "\\n", "\"", "'",
    "- item", "key: value", "? q", ": c", "&anchor", "*alias", "!!python/object", "--- ", "...", "# c", "@at",
    "yes", "no", "on", "off", "null", "~", "true", "0x1F", "1e3", "0o17", ".inf", "NaN",
    '{"json": [1, {"a": null}]}', "[1, 2]", "{}", "<script>alert(1)</script>", "'; DROP TABLE x; --",
    "\u00e9\u00e8\u00ea", "\u4e2d\u6587", "\U0001F600", "\u202eRTL\u202c", "\u200b", "\ufeff", "\u2028", "\u2029",
    "\x85", "\r\n", "\r", "\t", "  ", "%s %d %n", "%(x)s", "{0}", "$HOME", "~/x", "../../etc",
]
CONTROL = [chr(c) for c in range(1, 32)] + ["\x7f"]  # every C0 control but NUL, and DEL
SEPARATOR = "\x1e|{{sep}}|\x1e"
PER = 10


def corpus() -> List[str]:
    """At least 300 values: each fragment alone, each control character inside text, and
    pairs of fragments (which is where a second render or an unquoted join would show)."""
    values = list(FRAGMENTS)
    values += ["a%sb" % c for c in CONTROL]
    pairs = itertools.islice(itertools.product(FRAGMENTS[:20], FRAGMENTS[20:40]), 200)
    values += ["%s%s" % p for p in pairs]
    values.append("x" * 30000 + "{{ tail }}")
    return values


def packed() -> List[str]:
    values = corpus()
    return [SEPARATOR.join(values[i:i + PER]) for i in range(0, len(values), PER)]


def flow_source(flow_name: str, defaults: List[str]) -> str:
    params = "\n".join("    p%d = Parameter(%r, default=%r)" % (i, "p%d" % i, v) for i, v in enumerate(defaults))
    return (
        "from metaflow import FlowSpec, Parameter, step\n\n\n"
        "class %s(FlowSpec):\n%s\n\n"
        "    @step\n    def start(self):\n"
        "        self.got = [getattr(self, 'p%%d' %% i) for i in range(%d)]\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n\n"
        "if __name__ == '__main__':\n    %s()\n" % (flow_name, params, len(defaults), flow_name))


def scan_for(secret: str, roots: List[str], texts: List[str]) -> List[str]:
    """Where ``secret`` appears: files below ``roots`` (any size up to 5 MB) and ``texts``."""
    import os

    found = [("text %d" % i) for i, text in enumerate(texts) if secret in (text or "")]
    needle = secret.encode("utf-8")
    for root in roots:
        for here, _, names in os.walk(root):
            for name in names:
                path = os.path.join(here, name)
                try:
                    if os.path.getsize(path) <= 5_000_000:
                        with open(path, "rb") as handle:
                            if needle in handle.read():
                                found.append(path)
                except OSError:
                    continue
    return found


def assert_no_credential_anywhere(secret: str, roots: List[str], texts: List[str], plant_dir: str) -> None:
    """The scan must be able to fail: a planted copy is found first, then nothing is."""
    import os

    planted = os.path.join(plant_dir, "planted-credential.txt")
    with open(planted, "w", encoding="utf-8") as handle:
        handle.write("x %s y" % secret)
    assert planted in scan_for(secret, [plant_dir], [])
    os.remove(planted)
    assert scan_for(secret, roots, texts) == []


def run_every_start_path(engine: str, path, server_env, start_with_defaults, deploy_cli, deployer_trigger,
                         flow_name: str, rid_of) -> List[str]:
    """Create the flow whose defaults are the packed corpus, then start it on every path with
    the reversed corpus; every run's `got` must be exactly what was given. Returns the CLI
    outputs (for the credential scan)."""
    import os
    import subprocess
    import sys

    from flowrunner import client_run

    defaults = packed()
    given = list(reversed(defaults))
    env = {**os.environ, **server_env}

    def cli(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, str(path), "--no-pylint", engine, *args], capture_output=True,
                              text=True, env=env, timeout=900)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        return proc

    outputs = [cli("create", *deploy_cli).stdout]
    # 1. The engine starts the run itself, with no inputs (schedule, UI, REST): the defaults.
    assert client_run(flow_name, start_with_defaults()).data.got == defaults
    # 2. --run-param name=value; 3. typed options --pK value.
    run_params = [a for i, v in enumerate(given) for a in ("--run-param", "p%d=%s" % (i, v))]
    typed = [a for i, v in enumerate(given) for a in ("--p%d" % i, v)]
    for args in (run_params, typed):
        proc = cli("trigger", "--wait", *args)
        outputs += [proc.stdout, proc.stderr]
        assert client_run(flow_name, rid_of(proc.stdout + proc.stderr)).data.got == given
    # 4. The Deployer.
    assert deployer_trigger({"p%d" % i: v for i, v in enumerate(given)}).data.got == given
    return outputs
