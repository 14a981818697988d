# An engine image that can run Metaflow tasks itself: Kestra's Process task runner (and
# Windmill's bash jobs) run each task on the engine's own machine.
#
# Flows deployed with a code package (the default) need only Python 3 with Metaflow's runtime
# dependencies here (`requests`, `boto3` for an S3 datastore): every task fetches Metaflow and
# this package from the datastore. Metaflow and this package are installed as well, for flows
# deployed with --no-code-package (which run the flow file at the deploying machine's path).
#
# Built by docker-compose.yml from the repository root (the build context), once per engine:
#   BASE_IMAGE=kestra/kestra:latest                 Kestra 2.x (default)
#   BASE_IMAGE=kestra/kestra:v1.3                   Kestra 1.x
#   BASE_IMAGE=ghcr.io/windmill-labs/windmill:main  Windmill worker
# All three are Debian/Ubuntu based (apt-get).
ARG BASE_IMAGE=kestra/kestra:latest
FROM ${BASE_IMAGE}

# Kestra's image ends with `USER kestra`; installing needs root.
USER root

# The system Python in a venv of its own: newer Kestra images put their own /app/.venv first
# on PATH, and Debian/Ubuntu Pythons refuse system-wide pip installs (PEP 668).
RUN apt-get update -y \
    && apt-get install -y --no-install-recommends python3 python3-venv curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && /usr/bin/python3 -m venv /opt/mfo

# Pin Metaflow to the version of the machine that deploys the flows and reads the runs back
# (tested: 2.19.39): `METAFLOW_SPEC=metaflow==X.Y.Z docker compose build`.
ARG METAFLOW_SPEC=metaflow==2.19.39
COPY pyproject.toml README.md /tmp/mfo-src/
COPY metaflow_extensions /tmp/mfo-src/metaflow_extensions
COPY metaflow_orchestrators /tmp/mfo-src/metaflow_orchestrators
RUN /opt/mfo/bin/pip install --no-cache-dir "${METAFLOW_SPEC}" boto3 /tmp/mfo-src \
    && rm -rf /tmp/mfo-src \
    && /opt/mfo/bin/python3 -c "import metaflow, metaflow_extensions.orchestrators.plugins.runtime.entry"

# `python3` (the compiled flows' default --worker-python) is now this venv's interpreter:
# Kestra's Process runner and Windmill's jobs inherit PATH. (Or deploy with
# --worker-python /opt/mfo/bin/python3.)
ENV PATH=/opt/mfo/bin:$PATH

# Metaflow's local datastore writes its files with mode 0600 (mkstemp). For the host user to
# read back what tasks wrote into the shared datastore, the tasks must run under the host
# user's uid: the image's `kestra` user takes MFO_UID/MFO_GID (docker-compose.yml passes them
# from the environment: `export MFO_UID=$(id -u) MFO_GID=$(id -g)`). Images without a `kestra`
# user (Windmill) are left as they are; compose runs that worker under the same uid.
ARG MFO_UID=1000
ARG MFO_GID=1000
RUN if id kestra >/dev/null 2>&1 && [ "${MFO_UID}" != "0" ]; then \
        (getent group kestra >/dev/null || groupadd kestra) \
        && groupmod -o -g "${MFO_GID}" kestra \
        && usermod -o -u "${MFO_UID}" -g kestra kestra \
        && mkdir -p /app/data \
        && chown -R kestra:kestra /app \
        && if [ -d /home/kestra ]; then chown -R kestra:kestra /home/kestra; fi; \
    fi
