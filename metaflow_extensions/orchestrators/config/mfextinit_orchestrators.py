"""Settings, read from the environment (``METAFLOW_<NAME>`` or the plain name) or the
active Metaflow config profile, and merged into ``metaflow.metaflow_config``.

Credentials are read here at use time only; they are never written into a compiled
document, a deployment id or an attribute file.
"""
import os

from metaflow.metaflow_config_funcs import from_conf


def _setting(name, default=None):
    # The seed interface documents the plain names (KESTRA_HOST, WINDMILL_TOKEN, ...);
    # Metaflow's own convention is METAFLOW_<NAME> or the config profile.
    return os.environ.get(name) or from_conf(name, default)


KESTRA_HOST = _setting("KESTRA_HOST", "http://localhost:8080")
KESTRA_USER = _setting("KESTRA_USER")
KESTRA_PASSWORD = _setting("KESTRA_PASSWORD")
KESTRA_TOKEN = _setting("KESTRA_TOKEN")
KESTRA_NAMESPACE = _setting("KESTRA_NAMESPACE", "metaflow")
KESTRA_TENANT = _setting("KESTRA_TENANT")

WINDMILL_HOST = _setting("WINDMILL_HOST", "http://localhost:8000")
WINDMILL_TOKEN = _setting("WINDMILL_TOKEN")
WINDMILL_WORKSPACE = _setting("WINDMILL_WORKSPACE", "admins")
WINDMILL_FOLDER = _setting("WINDMILL_FOLDER", "metaflow")
