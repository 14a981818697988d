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
)
os.environ.setdefault("USERNAME", "tester")
sys.path.insert(0, os.path.dirname(__file__))
