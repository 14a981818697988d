"""Print the example × Kestra target table from the last test runs (.test-results/, written
by tests/conftest.py): one row per example flow, one column per target, each cell the
outcome of running that example end to end there with artifacts compared to a local run."""
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ["emulator 1.x", "emulator 2.x"]
MARK = {"passed": "✅", "failed": "❌", "skipped": "—", "xfailed": "⚠️ known engine defect (xfail)",
        "xpassed": "✅ (was a known defect)"}


def main() -> int:
    tables = {}
    for path in glob.glob(os.path.join(ROOT, ".test-results", "examples-*.json")):
        with open(path) as f:
            data = json.load(f)
        tables[data["target"]] = data["results"]
    if not tables:
        print("no results yet: run `make test` first", file=sys.stderr)
        return 1
    targets = [t for t in ORDER if t in tables] + sorted(t for t in tables if t not in ORDER)
    examples = sorted({e for results in tables.values() for e in results})
    print("| example | " + " | ".join(targets) + " |")
    print("|---|" + "---|" * len(targets))
    for example in examples:
        cells = [MARK.get(tables[t].get(example, ""), "not run") for t in targets]
        print("| `%s` | %s |" % (example, " | ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
