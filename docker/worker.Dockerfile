# An engine image that can run Metaflow tasks itself: Kestra's Process task runner (and
# Windmill's bash jobs) start `python3 -m metaflow_extensions.orchestrators.plugins.runtime.entry`
# on the engine's own machine, so that machine needs Python 3, Metaflow and this package.
#
# Built by docker-compose.yml from the repository root (the build context), once per engine:
#   BASE_IMAGE=kestra/kestra:latest                 Kestra 2.x (default)
#   BASE_IMAGE=kestra/kestra:v1.3                   Kestra 1.x
#   BASE_IMAGE=ghcr.io/windmill-labs/windmill:main  Windmill worker
# Both engines' images are Debian/Ubuntu based (apt-get).
ARG BASE_IMAGE=kestra/kestra:latest
FROM ${BASE_IMAGE}

# Kestra's image ends with `USER kestra`; installing needs root (the compose file runs the
# container as root too, as Kestra's own docker-compose.yml does).
USER root

# The system Python, in a venv of its own: newer Kestra images put their own /app/.venv first
# on PATH and Debian/Ubuntu Pythons refuse system-wide pip installs (PEP 668).
RUN apt-get update -y \
    && apt-get install -y --no-install-recommends python3 python3-venv curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && /usr/bin/python3 -m venv /opt/mfo

# Pin Metaflow to the version on the machine that deploys and reads the runs (tested: 2.19.39);
# override with `--build-arg METAFLOW_SPEC=metaflow==X.Y.Z` (or METAFLOW_SPEC=... docker compose build).
ARG METAFLOW_SPEC=metaflow==2.19.39
COPY pyproject.toml README.md /tmp/mfo-src/
COPY metaflow_extensions /tmp/mfo-src/metaflow_extensions
COPY metaflow_orchestrators /tmp/mfo-src/metaflow_orchestrators
RUN /opt/mfo/bin/pip install --no-cache-dir "${METAFLOW_SPEC}" /tmp/mfo-src \
    && rm -rf /tmp/mfo-src \
    && /opt/mfo/bin/python3 -c "import metaflow, metaflow_extensions.orchestrators.plugins.runtime.entry"

# `python3` (the compiled flows' default --worker-python) is now this venv's interpreter; the
# Process runner and Windmill jobs inherit PATH. Or deploy with --worker-python /opt/mfo/bin/python3.
ENV PATH=/opt/mfo/bin:$PATH

# Files the tasks write into the shared datastore (a bind mount) stay writable by the host
# user who runs the tests and reads the runs back.
COPY docker/umask-entrypoint.sh /usr/local/bin/umask-entrypoint.sh
RUN chmod 0755 /usr/local/bin/umask-entrypoint.sh
