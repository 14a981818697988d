"""Reuse of a code package already stored, when nothing that goes into it changed.

Metaflow builds the package (``MetaflowPackage``: the flow's directory, Metaflow itself and
every extension, ~500 files) as a gzipped tar on every deploy: ~0.15 s of CPU, most of a
``run``'s cost before its first task, although a re-run of an unchanged flow packs the same
bytes again. Here the package's archive is Metaflow's own tar backend behind a recorder:
Metaflow hands it the files and data as it always does; the recorder fingerprints them
(each file's path, name in the archive and ``os.stat`` identity: device, inode, mode,
owner, size, modification and change times in ns; each data member's SHA-256) and, when a
package of that fingerprint is in the flow's local datastore, returns its bytes instead of
packing them again (checked against its SHA-1, the datastore's name for it). Otherwise the
same calls go to Metaflow's tar backend in the same order, so the archive is the one
Metaflow builds, byte for byte.

Trusting ``os.stat`` is what Python's own bytecode cache does (source size and mtime); the
change time is added because no tool can set it back. A file changed within the last
seconds is "racy" (as git calls it): on a file system with coarse timestamps it could
change again unseen within the same tick, so a package holding one is built and not
remembered. Only for the local datastore, where reading a stored package costs a file
read; an S3 package would be a download, no cheaper than packing.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from io import BytesIO
from typing import Any, List, Optional, Tuple

CACHE_VERSION = 1
RACY_SECONDS = 3.0  # coarsest common timestamp granularity (FAT: 2 s), with a margin

# (file path or None, name in the archive, data or None), in the order Metaflow added them
Entry = Tuple[Optional[str], Optional[str], Optional[bytes]]


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "metaflow-orchestrators", "code-packages")


class ReusingTar:
    """What ``MetaflowPackage(backend=...)`` asks of its backend class: called with no
    argument for an archive (``_make``), and asked its type for the package's metadata. An
    instance, not a subclass of Metaflow's ``PackagingBackend``: every subclass registers
    itself under its type, and there is one ``tgz``."""

    def __init__(self, flow_datastore: Any):
        self.flow_datastore = flow_datastore

    def __call__(self) -> "Recorder":
        return Recorder(self.flow_datastore)

    @staticmethod
    def backend_type() -> str:
        from metaflow.packaging_sys.tar_backend import TarPackagingBackend

        return TarPackagingBackend.backend_type()


class Recorder:
    """The archive Metaflow fills: records, then builds or reuses in ``get_blob``."""

    def __init__(self, flow_datastore: Any):
        self.flow_datastore = flow_datastore
        self.entries: List[Entry] = []
        self.reused: Optional[str] = None  # the SHA-1 of the stored package returned, if one was

    def create(self) -> "Recorder":
        self.entries = []
        return self

    def __enter__(self) -> "Recorder":
        return self.create()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def add_file(self, filename: str, arcname: Optional[str] = None) -> None:
        self.entries.append((filename, arcname, None))

    def add_data(self, data: BytesIO, arcname: str) -> None:
        self.entries.append((None, arcname, data.getvalue()))

    def close(self) -> None:
        pass

    def get_blob(self) -> bytes:
        key, racy = fingerprint(self.flow_datastore, self.entries)
        blob = stored(self.flow_datastore, key)
        if blob is not None:
            self.reused = hashlib.sha1(blob).hexdigest()
            return blob
        blob = build(self.entries)
        if not racy:
            remember(key, hashlib.sha1(blob).hexdigest())
        return blob


def build(entries: List[Entry]) -> bytes:
    """The archive as Metaflow's ``_make`` builds it: the same calls, in the same order."""
    from metaflow.packaging_sys.tar_backend import TarPackagingBackend

    backend = TarPackagingBackend()
    with backend.create() as archive:
        for path, arcname, data in entries:
            if data is None:
                archive.add_file(path, arcname=arcname)
            else:
                archive.add_data(BytesIO(data), arcname=arcname)
    return bytes(backend.get_blob())


def fingerprint(flow_datastore: Any, entries: List[Entry]) -> Tuple[str, bool]:
    """(the key of this content, whether a file in it changed too recently to be trusted)."""
    import metaflow

    newest = time.time() - RACY_SECONDS
    racy = False
    parts: List[Any] = [CACHE_VERSION, sys.version, getattr(metaflow, "__version__", ""),
                        flow_datastore.TYPE, str(flow_datastore.datastore_root), flow_datastore.flow_name]
    for path, arcname, data in entries:
        if data is not None:
            parts.append([arcname, hashlib.sha256(data).hexdigest()])
            continue
        st = os.stat(path)  # follows links, as the archive does (dereference=True)
        racy = racy or max(st.st_mtime, st.st_ctime) > newest
        parts.append([path, arcname, st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_size,
                      st.st_mtime_ns, st.st_ctime_ns])
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest(), racy


def stored(flow_datastore: Any, key: str) -> Optional[bytes]:
    """The stored package remembered for ``key``, whole (its SHA-1 checked), or None."""
    try:
        with open(os.path.join(cache_dir(), key)) as f:
            sha = f.read().strip()
        blob = next(iter(flow_datastore.load_data([sha], force_raw=True)))[1]
    except Exception:  # nothing remembered, the package deleted: built again
        return None
    return bytes(blob) if blob is not None and hashlib.sha1(blob).hexdigest() == sha else None


def remember(key: str, sha: str) -> None:
    """Best effort: a cache that cannot be written only costs the next deploy a build."""
    directory = cache_dir()
    tmp = None
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".new-")
        with os.fdopen(fd, "w") as f:
            f.write(sha)
        os.replace(tmp, os.path.join(directory, key))
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
