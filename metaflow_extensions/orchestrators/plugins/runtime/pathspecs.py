"""Metaflow's ``--input-paths`` encodings, written without importing Metaflow.

Three forms, all accepted by Metaflow's ``decompress_list``: a comma list, a
common-prefix form ``run/step/:t0,t1`` and, past 500 characters, ``!`` + base64 of the
doubly zlib-compressed text (metaflow/util.py ``compress_list``).
"""
from __future__ import annotations

import base64
import os
import zlib
from typing import Sequence

_DELIMITERS = (",", ":", "!")
_ZLIB_MIN = 500


def compress(pathspecs: Sequence[str]) -> str:
    for item in pathspecs:
        if any(d in item for d in _DELIMITERS):
            raise ValueError("input path %r contains one of , : !" % item)
    prefix = os.path.commonprefix(list(pathspecs)) if len(pathspecs) > 1 else ""
    if prefix:
        text = prefix + ":" + ",".join(p[len(prefix):] for p in pathspecs)
    else:
        text = ",".join(pathspecs)
    if len(text) < _ZLIB_MIN:
        return text
    return "!" + base64.b64encode(zlib.compress(zlib.compress(text.encode("utf-8")))).decode("ascii")


def decompress(text: str) -> list:
    if text.startswith("!"):
        text = zlib.decompress(zlib.decompress(base64.b64decode(text[1:]))).decode("utf-8")
    if ":" in text:
        prefix, rest = text.split(":")
        return [prefix + s for s in rest.split(",")]
    return text.split(",")
