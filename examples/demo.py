"""`make demo`: what can be shown today, on a fresh machine.

The Kestra and Windmill back ends (and their run on the emulators) are being built; until
they land, the demo shows the engine-neutral plan of each example flow, which both back
ends compile from.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHOWN = ["branch", "nested_foreach", "switch_in_foreach", "recursive_switch"]


def outline(seq):
    out = []
    for block in seq["blocks"]:
        kind = block["_type"]
        if kind == "StepTask":
            out.append(block["name"])
        elif kind == "Split":
            out.append({"split": block["head"]["name"], "branches": [outline(b) for b in block["branches"]]})
        elif kind == "Foreach":
            out.append({"foreach": block["head"]["name"], "body": outline(block["body"])})
        else:
            out.append({"switch": block["head"]["name"],
                        "cases": {"+".join(c["keys"]): outline(c["body"]) for c in block["cases"]}})
    return out


def main():
    print("Kestra / Windmill back ends: coming with their issues. The plan they compile from:\n")
    env = {**os.environ, "USERNAME": os.environ.get("USERNAME", "demo")}
    for name in SHOWN:
        proc = subprocess.run([sys.executable, os.path.join(HERE, name + ".py"), "--no-pylint", "kestra", "plan"],
                              capture_output=True, text=True, env=env, cwd=HERE)
        if proc.returncode != 0:
            sys.exit(proc.stderr)
        print("%-20s %s" % (name, json.dumps(outline(json.loads(proc.stdout)["root"]))))


if __name__ == "__main__":
    main()
