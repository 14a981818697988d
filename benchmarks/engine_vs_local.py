"""An engine run against a local run of the same flow, side by side (issue 17's benchmark).

For each foreach width W it writes a flow (a static split, one branch a foreach of width W,
joins: W + 7 tasks) and times, interleaved, ``python flow.py run`` and ``python flow.py
<engine> run --wait`` on each emulator (Kestra 1.x, 2.x, Windmill; with ``--real-kestra`` also
the Kestra server at KESTRA_HOST, e.g. ``realservers/kestra/serve 2``). It prints the median
wall time of each and the ratio to local, and where each run's CPU went (a local run's runtime
and tasks; an engine run's client, emulator and tasks: the emulator's children), from /proc;
then the time to compile a 300-step linear flow
(ours: ``compile`` minus Metaflow's own flow loading and graph validation, ``check``). Each emulator runs as its own
process, whose peak resident memory and the ``--wait`` client's are printed too (from /proc
and getrusage).

    python benchmarks/engine_vs_local.py [--widths 12 60] [--reps 3] [--engines kestra1 kestra2 windmill]
                                         [--wide 1000] [--concurrent 50] [--only-extra] [--real-kestra]

``--wide N`` adds one run of an N-wide foreach per engine (the emulator's and the client's peak
memory); ``--concurrent N`` triggers N runs of one deployment at once per engine and checks
that every one ended successfully with its own artifact.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Dict, List, NamedTuple, Tuple

PY = sys.executable
WIDE_FLOW = '''
from metaflow import FlowSpec, step


class WideFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(%(width)d))
        self.next(self.fan, self.side)

    @step
    def fan(self):
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.value = self.input * 2
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.meet)

    @step
    def side(self):
        self.other = 1
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.total = inputs.gather.total + inputs.side.other
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideFlow()
'''


def linear_flow(steps: int) -> str:
    lines = ["from metaflow import FlowSpec, step", "", "", "class LongFlow(FlowSpec):"]
    names = ["start"] + ["s%d" % i for i in range(1, steps - 1)] + ["end"]
    for name, after in zip(names, names[1:] + [None]):
        lines += ["    @step", "    def %s(self):" % name,
                  "        self.next(self.%s)" % after if after else "        pass", ""]
    lines += ["", 'if __name__ == "__main__":', "    LongFlow()", ""]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """One emulator process; ``env`` points a flow's CLI at it."""

    def __init__(self, engine: str, workdir: str):
        self.engine = engine
        self.cli = engine.rstrip("12")  # the flow's CLI group: kestra or windmill
        port = free_port()
        if engine.startswith("kestra"):
            argv = ["emulate", "kestra", "--port", str(port), "--version", engine[-1]]
            self.env = {"KESTRA_HOST": "http://127.0.0.1:%d" % port}
        else:
            argv = ["emulate", "windmill", "--port", str(port), "--token", "bench-token", "--workspace", "bench"]
            self.env = {"WINDMILL_HOST": "http://127.0.0.1:%d" % port, "WINDMILL_TOKEN": "bench-token",
                        "WINDMILL_WORKSPACE": "bench"}
        self.proc = subprocess.Popen([PY, "-m", "metaflow_orchestrators.cli", *argv], cwd=workdir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the %s emulator did not start" % engine)

    def cpu(self) -> Tuple[float, float]:
        """The emulator's own CPU seconds so far, and its ended tasks'."""
        return proc_cpu(self.proc.pid)

    def peak_rss_mb(self) -> float:
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


class RealKestra:
    """A Kestra server we did not start (KESTRA_HOST, KESTRA_USER, KESTRA_PASSWORD), e.g.
    ``realservers/kestra/serve 2``: its tasks must see this machine's datastore directory."""

    cli = "kestra"

    def __init__(self, env: Dict[str, str]):
        self.env = {k: v for k, v in env.items() if k in ("KESTRA_HOST", "KESTRA_USER", "KESTRA_PASSWORD")}
        with urllib.request.urlopen(env["KESTRA_HOST"].rstrip("/") + "/api/v1/configs", timeout=10) as answer:
            version = json.load(answer).get("version", "?")
        self.engine = "kestra %s (real)" % version

    def cpu(self) -> Tuple[float, float]:
        return (0.0, 0.0)  # not our process

    def peak_rss_mb(self) -> float:
        return float("nan")  # not our process

    def stop(self) -> None:
        pass


def proc_cpu(pid: int) -> Tuple[float, float]:
    """(its own, its reaped children's) CPU seconds of a process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


class Measured(NamedTuple):
    wall: float  # seconds
    own_cpu: float  # the command's own CPU seconds
    children_cpu: float  # its reaped children's (a local run's tasks)
    peak_mb: float  # its own peak resident memory


def measure(argv: List[str], env: Dict[str, str], cwd: str) -> Measured:
    """Run a command (its output kept in a file, shown if it fails). Its CPU is read from /proc
    while it is a zombie, before it is reaped; its peak memory from wait4's rusage."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        elapsed = time.perf_counter() - start
        own, children = proc_cpu(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            raise RuntimeError("%s failed:\n%s" % (" ".join(argv[:4]), out.read().decode()[-2000:]))
    return Measured(elapsed, own, children, usage.ru_maxrss / 1024)


def timed(argv: List[str], env: Dict[str, str], cwd: str) -> float:
    return measure(argv, env, cwd).wall


def width_table(width: int, reps: int, emulators: List, base_env: Dict[str, str], work: str) -> None:
    """Wall times, and where the CPU went: a local run's is its runtime's and its tasks'; an
    engine run's is the client's (compile, deploy, ``--wait``), the emulator's and the tasks'
    (the emulator's children)."""
    path = os.path.join(work, "wide_%d.py" % width)
    with open(path, "w") as f:
        f.write(WIDE_FLOW % {"width": width})
    times: Dict[str, List[Tuple[float, ...]]] = {"local": []}
    for _ in range(reps):  # interleaved, so a noisy moment hits every contender
        local_run = measure([PY, path, "--no-pylint", "run"], base_env, work)
        times["local"].append((local_run.wall, local_run.own_cpu, local_run.children_cpu))
        for emu in emulators:
            env = dict(base_env, **emu.env)
            argv = [PY, path, "--no-pylint", emu.cli, "run", "--wait", "--worker-python=%s" % PY]
            before = emu.cpu()
            client = measure(argv, env, work)
            after = emu.cpu()
            times.setdefault(emu.engine, []).append(
                (client.wall, client.own_cpu, after[0] - before[0], after[1] - before[1]))
    local = [statistics.median(column) for column in zip(*times["local"])]
    print("W=%-4d tasks=%-4d local %.2f s            CPU: tasks %.1f s, runtime %.2f s"
          % (width, width + 7, local[0], local[2], local[1]))
    for emu in emulators:
        wall, client, own, tasks = [statistics.median(column) for column in zip(*times[emu.engine])]
        cpu = ("tasks %.1f s, client %.2f s, emulator %.2f s" % (tasks, client, own) if isinstance(emu, Emulator)
               else "client %.2f s (the server's is not ours to read)" % client)
        print("        %-10s %.2f s  ratio %.2fx  CPU: %s" % (emu.engine, wall, wall / local[0], cpu))


CONCURRENT_FLOW = '''
from metaflow import FlowSpec, Parameter, step


class ManyFlow(FlowSpec):
    n = Parameter("n", type=int, default=0)

    @step
    def start(self):
        self.out = self.n * 2
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ManyFlow()
'''


def wide_run(width: int, emulators: List[Emulator], base_env: Dict[str, str], work: str) -> None:
    """One run of a very wide foreach per engine: does it finish, and what memory it takes."""
    path = os.path.join(work, "wide_%d.py" % width)
    with open(path, "w") as f:
        f.write(WIDE_FLOW % {"width": width})
    for emu in emulators:
        argv = [PY, path, "--no-pylint", emu.cli, "run", "--wait", "--worker-python=%s" % PY]
        client = measure(argv, dict(base_env, **emu.env), work)
        print("W=%d (%d tasks) on %s: %.0f s; emulator peak resident memory %.0f MB, --wait client %.0f MB"
              % (width, width + 7, emu.engine, client.wall, emu.peak_rss_mb(), client.peak_mb))


def concurrent_runs(count: int, emulators: List[Emulator], base_env: Dict[str, str], work: str) -> None:
    """``count`` runs triggered at once on one deployment: all must finish, none lost, each
    with its own artifact (read back with the Metaflow client)."""
    from concurrent.futures import ThreadPoolExecutor

    path = os.path.join(work, "many.py")
    with open(path, "w") as f:
        f.write(CONCURRENT_FLOW)
    for emu in emulators:
        env = dict(base_env, **emu.env)
        engine = emu.cli
        timed([PY, path, "--no-pylint", engine, "create", "--worker-python=%s" % PY], env, work)
        start = time.perf_counter()

        def trigger(i: int) -> str:
            id_file = os.path.join(work, "many-%s-%d.id" % (emu.engine, i))
            timed([PY, path, "--no-pylint", engine, "trigger", "--run-param", "n=%d" % i, "--run-id-file", id_file],
                  env, work)
            with open(id_file) as f:
                return f.read().strip()

        with ThreadPoolExecutor(max_workers=8) as pool:
            run_ids = list(pool.map(trigger, range(count)))
        triggered = time.perf_counter() - start
        ok = wait_for_runs(run_ids, env, deadline=time.time() + 900)
        print("%d runs at once on %s: triggered in %.0f s, all ended %.0f s after the first trigger; %d/%d "
              "successful with their own artifact" % (count, emu.engine, triggered, time.perf_counter() - start,
                                                      ok, count))


def wait_for_runs(run_ids: List[str], env: Dict[str, str], deadline: float) -> int:
    """How many runs ended successfully with ``out == 2 * n`` (the Metaflow client, in a
    subprocess that sees the benchmark's datastore)."""
    probe = ("import json, sys, time\n"
             "from metaflow import Run, namespace\n"
             "namespace(None)\n"
             "ids, deadline, ok = json.loads(sys.argv[1]), float(sys.argv[2]), {}\n"
             "while len(ok) < len(ids) and time.time() < deadline:\n"
             "    for i, rid in enumerate(ids):\n"
             "        if i in ok: continue\n"
             "        try: run = Run('ManyFlow/' + rid)\n"
             "        except Exception: continue\n"
             "        if run.finished: ok[i] = bool(run.successful and run.data.out == 2 * i)\n"
             "    time.sleep(1)\n"
             "print(sum(ok.values()))\n")
    out = subprocess.run([PY, "-c", probe, json.dumps(run_ids), str(deadline)], env=env, capture_output=True,
                         text=True, check=True).stdout
    return int(out.strip().splitlines()[-1])


def compile_time(base_env: Dict[str, str], work: str, reps: int) -> None:
    """Ours is ``compile`` minus Metaflow's own work on the flow before any command runs:
    loading it (``show``) and validating its graph (``check``: the lint every command that
    runs or deploys a flow does, ``run`` included; quadratic in a linear flow's length).
    The code package is timed twice: built (as on the first deploy after a change: each
    compile gets an empty package cache) and reused (package_reuse.py: an unchanged flow's
    package read back from the datastore)."""
    path = os.path.join(work, "long_300.py")
    with open(path, "w") as f:
        f.write(linear_flow(300))
    out = os.path.join(work, "long.yaml")
    cache = os.path.join(work, "package-cache")

    def median(*args: str, fresh_cache: bool = False) -> float:
        def one() -> float:
            env = dict(base_env, XDG_CACHE_HOME=tempfile.mkdtemp(dir=work) if fresh_cache else cache)
            return timed([PY, path, "--no-pylint", *args], env, work)
        return statistics.median(one() for _ in range(reps))

    time.sleep(4)  # older than package_reuse.RACY_SECONDS: its package may be remembered
    show, check = median("show"), median("check")
    built = median("kestra", "compile", out, fresh_cache=True)
    median("kestra", "compile", out)  # remembers the package
    reused = median("kestra", "compile", out)
    size = os.path.getsize(out) // 1024
    bare = median("kestra", "compile", "--no-code-package", out)
    print("compile 300 steps: kestra compile %.2f s; Metaflow's flow loading (show) %.2f s and graph validation "
          "(check - show) %.2f s; ours %.2f s, %d KB; of ours, the code package (Metaflow's MetaflowPackage) %.2f s "
          "reused, %.2f s built (first deploy after a change: ours %.2f s), the rest %.2f s"
          % (reused, show, check - show, reused - check, size, reused - bare, built - bare, built - check,
             bare - check))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[12, 60])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--engines", nargs="*", default=["kestra1", "kestra2", "windmill"],
                        help="emulators to start (none: only the --real-kestra server)")
    parser.add_argument("--wide", type=int, default=0, help="also one run of a foreach this wide per engine")
    parser.add_argument("--concurrent", type=int, default=0, help="also this many runs triggered at once per engine")
    parser.add_argument("--real-kestra", action="store_true",
                        help="also the Kestra server at KESTRA_HOST (it runs the benchmark's flows; its tasks must "
                             "see this machine's datastore directory)")
    parser.add_argument("--only-extra", action="store_true", help="skip the ratio tables and the compile time")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="mfo-engine-bench-")
    base_env = dict(os.environ, USERNAME=os.environ.get("USERNAME", "bench"), METAFLOW_DEFAULT_DATASTORE="local",
                    METAFLOW_DEFAULT_METADATA="local", METAFLOW_DATASTORE_SYSROOT_LOCAL=work,
                    XDG_CACHE_HOME=os.path.join(work, "cache"))  # package_reuse.py's cache: this benchmark's own
    if args.real_kestra and not base_env.get("KESTRA_HOST"):
        parser.error("--real-kestra needs KESTRA_HOST (and KESTRA_USER, KESTRA_PASSWORD)")
    real = RealKestra(base_env) if args.real_kestra else None
    for name in ("KESTRA_HOST", "KESTRA_USER", "KESTRA_PASSWORD", "WINDMILL_HOST"):
        base_env.pop(name, None)
    print("machine: %d cores, Python %s; %d interleaved repetitions, medians; an engine run's code package is "
          "built on its first run of each width, then reused (the compile line shows both)"
          % (os.cpu_count(), sys.version.split()[0], args.reps))
    emulators: List = [Emulator(engine, work) for engine in args.engines] + ([real] if real else [])
    try:
        if not args.only_extra:
            for width in args.widths:
                width_table(width, args.reps, emulators, base_env, work)
            compile_time(base_env, work, args.reps)
        if args.wide:
            wide_run(args.wide, emulators, base_env, work)
        if args.concurrent:
            concurrent_runs(args.concurrent, emulators, base_env, work)
        for emu in emulators:
            if isinstance(emu, Emulator):
                print("%s emulator peak resident memory: %.0f MB" % (emu.engine, emu.peak_rss_mb()))
        client = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print("largest client process (run --wait, local run, compile) peak resident memory: %.0f MB" % client)
    finally:
        for emu in emulators:
            emu.stop()


if __name__ == "__main__":
    main()
