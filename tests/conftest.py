"""Test-wide settings: an isolated local Metaflow datastore/metadata per test process.

Set before anything imports Metaflow (its config is read at import time), so the
Metaflow client in the test process and every flow subprocess see the same sysroot.
"""
import os
import sys
import tempfile

# Against a real server (KESTRA_HOST / WINDMILL_HOST) the datastore must be one its worker
# sees too: a fresh directory inside the given METAFLOW_DATASTORE_SYSROOT_LOCAL.
_SHARED = os.environ.get("METAFLOW_DATASTORE_SYSROOT_LOCAL") if (
    os.environ.get("KESTRA_HOST") or os.environ.get("WINDMILL_HOST")) else None
_SYSROOT = tempfile.mkdtemp(prefix="mfo-sysroot-", dir=_SHARED)
_HOME = tempfile.mkdtemp(prefix="mfo-home-")
os.environ.update(
    METAFLOW_DEFAULT_DATASTORE="local",
    METAFLOW_DEFAULT_METADATA="local",
    METAFLOW_DATASTORE_SYSROOT_LOCAL=_SYSROOT,
    METAFLOW_HOME=_HOME,
    METAFLOW_PROFILE="",
    XDG_CACHE_HOME=os.path.join(_HOME, "cache"),  # package_reuse.py's cache: never the developer's
)
os.environ.setdefault("USERNAME", "tester")
sys.path.insert(0, os.path.dirname(__file__))


# --- the real Kestra engine (realservers/kestra) -----------------------------------------
# `pytest --real-kestra 1` (or 2) starts Kestra's own engine for this session and points the
# real-server tests at it exactly as a KESTRA_HOST would: the conformance suite
# (tests/emulators/kestra, the same hand-written cases as on the emulator) and the Kestra
# end-to-end, CLI and Deployer tests (their `real` parameter). Started once, in the
# controlling process: xdist workers inherit the variables. Select those tests with
# `-m real_kestra`. A build or start failure fails the session loudly; nothing is faked.


def pytest_addoption(parser):
    parser.addoption("--real-kestra", choices=("1", "2"), default=None,
                     help="start the real Kestra engine of this major for the session (realservers/kestra)")


def pytest_configure(config):
    major = config.getoption("--real-kestra")
    if not major or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    import contextlib
    import realkestra

    stack = contextlib.ExitStack()
    # A real S3 server for the S3 tests, started first: the engine's tasks inherit the
    # environment it starts with (Process runner), so they reach S3 as a real worker would.
    import s3server

    s3 = stack.enter_context(s3server.start())
    os.environ.update(s3.env(), MFO_TEST_S3_ROOT=s3.root)
    server = stack.enter_context(realkestra.start(int(major)))
    config._mfo_real_kestra = stack
    os.environ.update(KESTRA_HOST=server.url, KESTRA_USER=server.user, KESTRA_PASSWORD=server.password,
                      MFO_REAL_KESTRA_VERSION=server.version,
                      MFO_REAL_KESTRA_STARTUP="%.1f" % server.startup_seconds)
    print("real Kestra %s (major %s) at %s, ready in %.1f s" % (server.version, major, server.url,
                                                             server.startup_seconds))


def pytest_unconfigure(config):
    stack = getattr(config, "_mfo_real_kestra", None)
    if stack is not None:
        stack.close()


# --- the example × engine table (README "How this is verified") -------------------------
# Each session records how every example flow fared end to end on each Kestra target into
# .test-results/; `python tests/verification_matrix.py` prints the table from the last runs.
_RESULTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".test-results")
_E2E_TEST = "test_example_runs_on_kestra_like_locally["
_outcomes = {}


def _target_label(param: str) -> str:
    if param in ("kestra1", "kestra2"):
        return "emulator %s.x" % param[-1]
    version = os.environ.get("MFO_REAL_KESTRA_VERSION")
    return "real engine %s" % version if version else "real server at KESTRA_HOST"


def pytest_runtest_logreport(report):
    if _E2E_TEST not in report.nodeid or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    param, _, example = report.nodeid.split(_E2E_TEST, 1)[1].rstrip("]").partition("-")
    if param == "real" and not os.environ.get("KESTRA_HOST"):
        return  # no real server in this session: nothing to record
    key = (_target_label(param), example)
    if report.when == "call" or report.outcome != "passed":
        if hasattr(report, "wasxfail"):
            _outcomes[key] = "xfailed" if report.skipped else "xpassed"
        elif report.skipped:
            _outcomes.setdefault(key, "skipped")
        else:
            _outcomes[key] = "passed" if report.passed else "failed"


def pytest_sessionfinish(session):
    if not _outcomes or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    import json

    os.makedirs(_RESULTS_DIR, exist_ok=True)
    by_target = {}
    for (target, example), outcome in _outcomes.items():
        by_target.setdefault(target, {})[example] = outcome
    for target, results in by_target.items():
        path = os.path.join(_RESULTS_DIR, "examples-%s.json" % target.replace(" ", "-"))
        if os.path.exists(path):  # a session that ran some examples updates only those
            with open(path) as f:
                results = {**json.load(f).get("results", {}), **results}
        with open(path, "w") as f:
            json.dump({"target": target, "results": results}, f, indent=1, sort_keys=True)
