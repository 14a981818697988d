"""Load Windmill's OpenAPI 1.743 spec (with its OpenFlow companion) for openapi-core checks."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, Optional

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

API_FILE = "windmill-openapi-1.743.0.yaml"
FLOW_FILE = "windmill-openflow-1.743.0.openapi.yaml"


def shared_specs_dir() -> Optional[str]:
    """`$MFO_SHARED_DIR/specs` or `<repo>/../shared/specs`."""
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.abspath(os.path.join(here, "..", "..", ".."))
    candidates = [os.path.join(os.environ["MFO_SHARED_DIR"], "specs")] if os.environ.get("MFO_SHARED_DIR") else []
    candidates.append(os.path.join(os.path.dirname(repo), "shared", "specs"))
    for candidate in candidates:
        if os.path.exists(os.path.join(candidate, API_FILE)):
            return candidate
    return None


@lru_cache(maxsize=None)
def openapi() -> OpenAPI:
    """The spec refers to `../../openflow.openapi.yaml` (its upstream location); point that at
    the companion file copied next to it (shared/specs/README.md)."""
    specs = shared_specs_dir()
    assert specs is not None
    work = tempfile.mkdtemp(prefix="wm-openapi-")
    shutil.copy(os.path.join(specs, FLOW_FILE), os.path.join(work, FLOW_FILE))
    with open(os.path.join(specs, API_FILE), encoding="utf-8") as handle:
        text = handle.read().replace("../../openflow.openapi.yaml#", FLOW_FILE + "#")
    path = os.path.join(work, API_FILE)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return OpenAPI.from_file_path(path)


@dataclass
class ContractRequest:
    """openapi-core Request protocol over an httpx request, with the operation's path template."""

    host_url: str
    path: str
    path_pattern: str
    method: str
    body: Optional[bytes]
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class ContractResponse:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes


def wrap(response: Any, template: str, path_params: Dict[str, str]) -> "tuple[ContractRequest, ContractResponse]":
    request = response.request
    query = ImmutableMultiDict(list(request.url.params.multi_items()))
    params = RequestParameters(query=query, header=Headers(dict(request.headers)),
                               cookie=ImmutableMultiDict(), path=path_params)
    body = request.content or None
    req = ContractRequest(host_url="%s://%s" % (request.url.scheme, request.url.netloc.decode()),
                          path=request.url.path, path_pattern="/api" + template,
                          method=request.method.lower(), body=body,
                          content_type=request.headers.get("content-type", "application/json"),
                          parameters=params)
    resp = ContractResponse(status_code=response.status_code,
                            content_type=response.headers.get("content-type", "").split(";")[0],
                            headers=Headers(dict(response.headers)), data=response.content)
    return req, resp
