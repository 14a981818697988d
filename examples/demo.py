"""`make demo`: what can be shown today, on a fresh machine.

The Kestra and Windmill back ends (and their run on the emulators) are being built; until
they land, the demo shows the engine-neutral plan of each example flow, which both back
ends compile from.
"""
import json
import os
import subprocess
import sys

from metaflow_extensions.orchestrators.plugins.plan.serialize import from_dict, outline

HERE = os.path.dirname(os.path.abspath(__file__))
SHOWN = ["branch", "nested_foreach", "switch_in_foreach", "recursive_switch"]


def main():
    print("Kestra / Windmill back ends: coming with their issues. The plan they compile from:\n")
    env = {**os.environ, "USERNAME": os.environ.get("USERNAME", "demo")}
    for name in SHOWN:
        proc = subprocess.run([sys.executable, os.path.join(HERE, name + ".py"), "--no-pylint", "kestra", "plan"],
                              capture_output=True, text=True, env=env, cwd=HERE)
        if proc.returncode != 0:
            sys.exit(proc.stderr)
        print("%-20s %s" % (name, json.dumps(outline(from_dict(json.loads(proc.stdout)).root))))


if __name__ == "__main__":
    main()
