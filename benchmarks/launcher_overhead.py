"""How much a task costs beyond `metaflow step` itself (the design's < 5 % goal).

Times the same task two ways: `python flow.py step ...` with the launcher's argv run
directly, and through the task entry (launcher + in-process run). Prints medians.
Run on demand: `make bench`.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
os.environ.setdefault("USERNAME", "bench")
ROOT = tempfile.mkdtemp(prefix="mfo-bench-")
os.environ.update(METAFLOW_DEFAULT_DATASTORE="local", METAFLOW_DEFAULT_METADATA="local",
                  METAFLOW_DATASTORE_SYSROOT_LOCAL=ROOT)

import flowrunner as fr  # noqa: E402
from metaflow_extensions.orchestrators.plugins.runtime.spec import encode, init_spec, step_spec  # noqa: E402


def timed(argv, env):
    t = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t


def main(n=9):
    plan = fr.load_plan("linear")
    deploy = fr.deploy_options("linear")
    entry = [sys.executable, "-m", fr.ENTRY]
    base = {**os.environ, "MFO_EXECUTION_ID": "bench"}
    subprocess.run(entry, env={**base, "MFO_SPEC": encode(init_spec(plan, deploy))}, check=True, capture_output=True, cwd=ROOT)
    start = {**base, "MFO_SPEC": encode(step_spec(plan, plan.step("start"), deploy))}
    dry = json.loads(subprocess.run(entry + ["--dry-run"], env=start, check=True, capture_output=True, text=True, cwd=ROOT).stdout)
    direct_env = {**os.environ, **dry["env"]}
    direct, through = [], []
    for _ in range(n):  # interleaved, so machine noise hits both alike
        direct.append(timed(dry["argv"], direct_env))
        through.append(timed(entry, start))
    d, t = statistics.median(direct), statistics.median(through)
    print(json.dumps({"direct_step_s": round(d, 4), "through_entry_s": round(t, 4),
                      "overhead_pct": round(100 * (t - d) / d, 2), "samples": n}))


if __name__ == "__main__":
    main()
