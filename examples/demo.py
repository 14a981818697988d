"""`make demo`: run example flows on Kestra and on Windmill, on a fresh machine, without Docker.

Starts the bundled Kestra 2.x emulator in this process (HTTP Basic auth on, a random
password), points a throw-away local Metaflow datastore at a temporary directory, then
deploys and runs a few example flows exactly as a user would:

    python flow.py --no-pylint kestra run --wait --kestra-host URL --worker-python PYTHON

(credentials only in KESTRA_USER / KESTRA_PASSWORD, never on a command line), and reads
each run's `end` artifacts back with the Metaflow client. Then the same flows on the
bundled Windmill emulator (`python flow.py windmill run --wait`, the token only in
WINDMILL_TOKEN). About 40 seconds.

    python3 examples/demo.py           # what `make demo` runs
    python3 examples/demo.py --keep    # leave the emulator up afterwards (Ctrl-C stops it)
"""
import os
import secrets
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# (example file, extra `run` options): one foreach, one switch with a parameter, one split.
FLOWS = [
    ("foreach", []),
    ("switch", ["--choice", "long"]),
    ("branch", []),
]
USER = "demo@example.com"
# Metaflow's own chatter, not the demo's story.
QUIET = ("Metaflow ", "Validating your flow", "    The graph looks good", "Running pylint",
         "    Pylint not found")


def main(argv):
    keep = "--keep" in argv
    try:
        from metaflow_orchestrators.emulators.kestra import start
    except ImportError as ex:
        sys.exit("The Kestra emulator is not installed (%s): run `make install` first." % ex)

    password = secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory(prefix="mfo-demo-") as root:
        env = flow_env(root, password)
        # The Metaflow client below reads the same datastore; its config is read at import.
        os.environ.update({k: env[k] for k in env if k.startswith("METAFLOW_") or k == "USERNAME"})
        with start(version=2, username=USER, password=password) as kestra:
            print("Kestra 2.x emulator at %s (REST API only, no UI; Basic auth as %s)\n" % (kestra.url, USER))
            started = time.time()
            runs = [(name, run_flow(name, options, kestra.url, env, root)) for name, options in FLOWS]
            print("\nAll %d runs ended SUCCESS in %.0f s.\n" % (len(runs), time.time() - started))
            for name, pathspec in runs:
                show_deployment(kestra.url, password, pathspec.split("/")[0])
                show_artifacts(pathspec)
            print("The emulator serves Kestra's REST API (no UI: the \"Kestra UI\" links above are where a real\n"
                  "Kestra shows the run). `python flow.py kestra status|logs|list-runs` read that API; with\n"
                  "--keep it stays up for you, e.g. `curl -u %s:PASSWORD %s/api/v1/main/executions/search`."
                  % (USER, kestra.url))
            if keep:
                print("\n--keep: emulator up at %s (user %s, password %s, datastore %s). Ctrl-C stops it."
                      % (kestra.url, USER, password, env["METAFLOW_DATASTORE_SYSROOT_LOCAL"]), flush=True)
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
        if not keep:
            windmill_demo(env, root, password)


def windmill_demo(env, root, token):
    """The same flows on the Windmill emulator: bash modules in one OpenFlow per flow."""
    from metaflow_orchestrators.emulators.windmill import start

    env = dict(env, WINDMILL_TOKEN=token, WINDMILL_WORKSPACE="demo")
    with start(token=token, workspace="demo") as windmill:
        print("\nWindmill emulator at %s (REST API only; token auth, workspace demo)\n" % windmill.url)
        started = time.time()
        runs = [(name, run_flow(name, options, windmill.url, env, root, engine="windmill"))
                for name, options in FLOWS]
        print("\nAll %d runs ended SUCCESS in %.0f s.\n" % (len(runs), time.time() - started))
        for name, pathspec in runs:
            show_windmill_flow(windmill.url, token, pathspec.split("/")[0])
            show_artifacts(pathspec)


def flow_env(root, password):
    env = dict(os.environ)
    for name in ("KESTRA_TOKEN", "KESTRA_TENANT", "KESTRA_HOST", "WINDMILL_HOST", "WINDMILL_TOKEN",
                 "WINDMILL_WORKSPACE", "WINDMILL_FOLDER"):
        env.pop(name, None)  # the demo talks to its own emulators only
    env.update({
        "KESTRA_NAMESPACE": "metaflow",
        "USERNAME": os.environ.get("USERNAME") or os.environ.get("USER") or "demo",
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": os.path.join(root, "datastore"),
        "KESTRA_USER": USER,
        "KESTRA_PASSWORD": password,
    })
    return env


def python_cmd():
    # -P (3.11+): only the installed package is importable, never a checkout next to the flow
    # (Metaflow refuses two copies of one extension).
    return [sys.executable] + (["-P"] if sys.version_info >= (3, 11) else [])


def run_flow(name, options, url, env, root, engine="kestra"):
    run_id_file = os.path.join(root, "%s-%s.run-id" % (engine, name))
    cmd = python_cmd() + [os.path.join(HERE, name + ".py"), "--no-pylint", engine, "run", "--wait",
                          "--max-wait", "120", "--%s-host" % engine, url, "--worker-python", sys.executable,
                          "--run-id-file", run_id_file] + options
    print("$ python %s.py %s run --wait" % (name, engine) + "".join(" " + o for o in options))
    proc = subprocess.run(cmd, env=env, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    for line in proc.stdout.splitlines():
        if line.strip() and not line.startswith(QUIET):
            print("  " + line)
    if proc.returncode != 0:
        sys.exit("`%s` failed (exit %d)" % (" ".join(cmd), proc.returncode))
    flow = "".join(part.capitalize() for part in name.split("_")) + "Flow"
    with open(run_id_file) as f:
        return "%s/%s" % (flow, f.read().strip())


def show_deployment(url, password, flow_id):
    """The Kestra flow our compiler produced, as a one-line task outline."""
    from metaflow_extensions.orchestrators.plugins.kestra.client import KestraClient

    with KestraClient(url, username=USER, password=password) as client:
        flow = client.get_flow("metaflow", flow_id)
    print("%s on Kestra: %s" % (flow_id, outline(flow["tasks"])))


def show_windmill_flow(url, token, flow_name):
    """The Windmill flow our compiler produced, as a one-line module outline."""
    from metaflow_extensions.orchestrators.plugins.windmill.client import WindmillClient

    with WindmillClient(url, token=token, workspace="demo") as client:
        flow = client.get_flow("f/metaflow/" + flow_name)
    print("%s on Windmill: %s" % (flow_name, module_outline(flow["value"]["modules"])))


def module_outline(modules):
    parts = []
    for module in modules:
        value = module["value"]
        if value["type"] in ("forloopflow", "whileloopflow"):
            parts.append("%s[%s]" % (value["type"], module_outline(value["modules"])))
        elif value["type"] in ("branchall", "branchone"):
            parts.append("%s(%s)" % (value["type"], " | ".join(module_outline(b["modules"])
                                                                for b in value["branches"])))
        else:
            parts.append(module["id"])
    return " -> ".join(parts)


def outline(tasks):
    parts = []
    for task in tasks:
        kind = task["type"].rsplit(".", 1)[-1]
        if "cases" in task:
            inner = " | ".join("%s: %s" % (case, outline(body)) for case, body in task["cases"].items())
            parts.append("%s{%s}" % (kind, inner))
        elif kind == "Parallel":
            parts.append("Parallel(%s)" % " | ".join(outline(t["tasks"]) for t in task["tasks"]))
        elif "tasks" in task:
            parts.append("%s[%s]" % (kind, outline(task["tasks"])) if kind != "Sequential"
                         else outline(task["tasks"]))
        else:
            parts.append(task["id"])
    return " -> ".join(parts)


def show_artifacts(pathspec):
    from metaflow import Run, namespace

    namespace(None)
    run = Run(pathspec)
    task = run.end_task
    print("  %s: successful=%s, end artifacts:" % (pathspec, run.successful))
    for artifact in sorted(task, key=lambda a: a.id):
        if artifact.id.startswith("_") or artifact.id == "name":
            continue
        text = repr(artifact.data)
        print("    %-14s %s" % (artifact.id, text if len(text) <= 100 else text[:97] + "..."))
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
