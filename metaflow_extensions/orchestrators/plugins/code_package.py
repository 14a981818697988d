"""The flow's Metaflow code package: built once at deploy, stored in the Metaflow datastore,
fetched and unpacked by every task before it runs (what Metaflow's Argo Workflows and Step
Functions integrations do; metaflow.md §12).

The package holds the flow's directory (files with the package suffixes), Metaflow itself and
every installed Metaflow extension, this one included, so a worker needs only Python and
Metaflow's own dependencies: nothing of the deploying machine's filesystem. The datastore
stores it content-addressed (by its SHA-1), so re-deploying an unchanged flow uploads nothing.

A task's command fetches the package with the fixed shell lines of ``bootstrap_lines``: they
read the package's address from variables, never hold it, and check its hash.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Dict, List

from . import package_reuse
from .plan.errors import PlanError

# The variables a task's engine command reads (Kestra: task env; Windmill: script arguments).
# Metaflow's own names (Argo sets them too), so the step itself also knows its package.
URL_VAR, SHA_VAR, DS_VAR = "METAFLOW_CODE_URL", "METAFLOW_CODE_SHA", "METAFLOW_CODE_DS"
METADATA_VAR = "METAFLOW_CODE_METADATA"
ARCHIVE = "mfo-code.tgz"
FETCHABLE = ("local", "s3")


@dataclass(frozen=True)
class CodePackage:
    url: str  # where the datastore keeps it (a path for the local datastore, s3://... for S3)
    sha: str  # SHA-1 of the archive: its name in the datastore, checked after download
    datastore: str  # the datastore type: how a task fetches it
    metadata: str  # Metaflow's package metadata (archive format, content version), JSON
    flow: str  # the flow file, relative to the package root

    def variables(self) -> Dict[str, str]:
        """What a task's command needs before it can run anything of ours."""
        return {URL_VAR: self.url, SHA_VAR: self.sha, DS_VAR: self.datastore}

    def task_env(self) -> Dict[str, str]:
        """What Metaflow inside the step reads about its package (as Argo sets it)."""
        return dict(self.variables(), **{METADATA_VAR: self.metadata})


_STARTED = "_mfo_code_package"  # where start_building leaves the package on Metaflow's CLI object


def start_building(obj) -> None:
    """Start the package now: Metaflow builds it in a thread of its own, which then overlaps
    what the command does before it needs the package (the engine client's import and first
    requests, the plan). Only where tasks can fetch it; build_and_upload says why otherwise."""
    if obj.environment.TYPE != "local":
        return  # MetaflowPackage initialises a @conda/@pypi environment: only after the deploy's checks
    if obj.flow_datastore.TYPE in FETCHABLE and getattr(obj, _STARTED, None) is None:
        setattr(obj, _STARTED, _new_package(obj))


def _new_package(obj):
    from metaflow.package import MetaflowPackage

    extra = {"backend": package_reuse.ReusingTar(obj.flow_datastore)} if obj.flow_datastore.TYPE == "local" else {}
    return MetaflowPackage(obj.flow, obj.environment, obj.echo, suffixes=obj.package_suffixes,
                           exclude_tl_dirs=hidden_dirs(os.path.dirname(os.path.abspath(sys.argv[0]))), **extra)


def hidden_dirs(flow_dir: str) -> List[str]:
    """The flow directory's hidden directories (``.metaflow``, where local runs keep their
    datastore by default, ``.git``, ``.venv``). Metaflow packages no file under a hidden
    directory but walks every one of them (``packaging_sys.utils.walk``), so a deploy from a
    project holding a virtualenv or many local runs spent seconds there; left out of the walk,
    the package is the same."""
    try:
        return sorted(e.name for e in os.scandir(flow_dir) if e.name.startswith(".") and e.is_dir())
    except OSError:
        return []


def build_and_upload(obj, flow_file: str) -> CodePackage:
    """Package the flow as Metaflow does and store it in the flow's datastore (once per
    content: the content-addressed store skips a blob it already holds)."""
    kind = obj.flow_datastore.TYPE
    if kind not in FETCHABLE:
        raise PlanError("a code package in a %r datastore cannot be fetched by the tasks yet (supported: %s); "
                        "deploy with --no-code-package and a worker that sees the flow's files"
                        % (kind, ", ".join(FETCHABLE)))
    package = getattr(obj, _STARTED, None) or _new_package(obj)
    check_metadata(package.package_metadata)
    url, sha = obj.flow_datastore.save_data([package.blob], len_hint=1)[0]
    return CodePackage(url=url, sha=sha, datastore=kind, metadata=package.package_metadata,
                       flow=os.path.basename(flow_file))


def bootstrap_lines(compile_bytecode: bool = True) -> List[str]:
    """Shell lines that make the package named by the variables importable: unpacked once per
    worker machine and user into ``$TMPDIR/mfo-code-<uid>/<sha>`` (fetched, its SHA-1 checked,
    unpacked aside, then moved into place, so a directory there is always whole), then put first
    on the Python path with its Metaflow and extensions (``MetaflowPackage.get_extract_commands``
    and ``get_post_extract_env_vars`` for a tgz of content version 1). Later tasks on the same
    worker pay a directory test instead of a download. Where the worker sets
    PYTHONDONTWRITEBYTECODE (most container images do), the package's bytecode is compiled
    once at unpacking (~0.5 s): otherwise every task would compile the ~280 modules it
    imports from Metaflow's sources again, ~0.25 s of CPU each. Not with
    ``compile_bytecode=False``: where every task starts in a fresh container, nothing is
    reused and compiling the whole package would cost more than it saves. ``-d`` (not the
    3.9+ ``-s``/``-p``) records the final directory in the bytecode. Fixed text: no value of
    the deployment."""
    s3 = ("import boto3, os; b, k = os.environ['%s'][len('s3://'):].split('/', 1); "
          "e = os.environ.get('METAFLOW_S3_ENDPOINT_URL'); "
          "boto3.client('s3', **({'endpoint_url': e} if e else {})).download_file(b, k, '%s')" % (URL_VAR, ARCHIVE))
    return [
        "# This deployment's Metaflow code package (the flow, Metaflow, extensions), unpacked once per worker and user.",
        'MFO_CODE_CACHE="${TMPDIR:-/tmp}/mfo-code-$(id -u)"; mkdir -p -m 700 "$MFO_CODE_CACHE" && [ -O "$MFO_CODE_CACHE" ] '
        '|| exit 1',
        'MFO_CODE="$MFO_CODE_CACHE/$%s"' % SHA_VAR,
        'if [ ! -d "$MFO_CODE" ]; then',
        '  MFO_NEW=$(mktemp -d "$MFO_CODE_CACHE/new.XXXXXX") || exit 1',
        '  if [ "$%s" = s3 ]; then (cd "$MFO_NEW" && "$MFO_PYTHON" -c "%s"); else cp "$%s" "$MFO_NEW/%s"; fi || exit 1'
        % (DS_VAR, s3, URL_VAR, ARCHIVE),
        '  (cd "$MFO_NEW" && echo "$%s  %s" | sha1sum -c --quiet - && TAR_OPTIONS=\'--warning=no-timestamp\' '
        'tar -xzf %s -C . && rm %s) || exit 1' % (SHA_VAR, ARCHIVE, ARCHIVE, ARCHIVE),
    ] + ([
        '  if [ -n "${PYTHONDONTWRITEBYTECODE:-}" ]; then "$MFO_PYTHON" -m compileall -q -j 2 -d "$MFO_CODE" '
        '"$MFO_NEW" >/dev/null 2>&1 || true; fi',
    ] if compile_bytecode else []) + [
        '  mv -T "$MFO_NEW" "$MFO_CODE" 2>/dev/null || rm -rf "$MFO_NEW"',
        'fi',
        'export PYTHONPATH="$MFO_CODE/.mf_code${PYTHONPATH:+:$PYTHONPATH}" METAFLOW_EXTRACTED_ROOT="$MFO_CODE"',
    ]


def check_metadata(metadata: str) -> None:
    """The lines above unpack Metaflow's tgz archives of content version 1 only."""
    info = json.loads(metadata)
    if info.get("archive_format", "tgz") != "tgz" or info.get("mfcontent_version") != 1:
        raise PlanError("this Metaflow writes code packages as %s; the tasks can unpack tgz packages of content "
                        "version 1" % metadata)
