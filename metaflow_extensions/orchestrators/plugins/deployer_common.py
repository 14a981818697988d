"""What every engine's ``DeployerImpl`` shares (Metaflow's contract, metaflow.md §10),
written once against the engine contract (``engine.Engine``). The ``DeployedFlow`` and
``TriggeredRun`` objects are in ``deployer_objects``: Metaflow's deployer classes import the
plugin registry, which imports this module, so they are imported late."""
from __future__ import annotations

import keyword
import re
from typing import TYPE_CHECKING, Any, Dict, Optional

from metaflow.runner.deployer_impl import DeployerImpl

if TYPE_CHECKING:  # every Metaflow process imports this module (the deployer registry): keep it light
    from .engine import Engine


class EngineDeployer(DeployerImpl):
    """``deployer_kwargs`` is a read-only property in Metaflow: store ``_deployer_kwargs``
    before the base initialiser runs. Secrets given as keyword arguments travel to the
    subprocesses as environment variables (``SECRET_OPTIONS``), never on a command line or
    in an attribute file."""

    ENGINE: "Engine"
    SECRET_OPTIONS: Dict[str, str] = {}  # keyword -> environment variable
    CONNECTION_OPTIONS: tuple = ()  # keywords that belong to the deployment when given to create()

    def __init__(self, deployer_kwargs: Dict[str, Any], **kwargs):
        secrets = self._pop_secrets(deployer_kwargs)
        self._deployer_kwargs = {k: v for k, v in deployer_kwargs.items() if v is not None}
        super().__init__(**kwargs)
        self.env_vars.update(secrets)

    @property
    def deployer_kwargs(self) -> Dict[str, Any]:
        return self._deployer_kwargs

    def _pop_secrets(self, kwargs: Dict[str, Any]) -> Dict[str, str]:
        return {env: str(kwargs.pop(key)) for key, env in self.SECRET_OPTIONS.items() if kwargs.get(key) is not None}

    def create(self, **kwargs):
        self.env_vars.update(self._pop_secrets(kwargs))
        # Connection options given to create() (as the orchestrator kit does) belong to
        # the deployment: later trigger/status calls must reach the same server.
        for key in self.CONNECTION_OPTIONS:
            if kwargs.get(key) is not None:
                self._deployer_kwargs[key] = kwargs.pop(key)
        return self._create(self.deployed_flow_type(), **kwargs)

    def from_deployment(self, identifier: str, metadata: Optional[str] = None):
        from .deployer_objects import connection_of

        return self.deployed_flow_type().rebuild(identifier, metadata, connection_of(self, self.ENGINE))


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAM_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "JSON": "JSONType"}


def stub_flow_source(flow_name: str, params: Dict[str, Dict[str, Any]], project: Optional[str] = None) -> str:
    """A stand-in flow file for ``from_deployment`` (what Metaflow's
    ``generate_fake_flow_file_contents`` does), except that every value read back from
    the engine is a ``repr`` literal or a checked identifier: engine-side text (labels,
    input descriptions) never becomes code."""
    _identifier(flow_name, "flow name")
    lines = ["from metaflow import FlowSpec, JSONType, Parameter, project, step", ""]
    if project:
        lines.append("@project(name=%r)" % str(project))
    lines.append("class %s(FlowSpec):" % flow_name)
    for name, info in params.items():
        var = _identifier(info.get("python_var_name") or name.replace("-", "_"), "parameter")
        kind = _PARAM_TYPES.get(info.get("type"), "str")
        lines.append("    %s = Parameter(%r, type=%s, help=%r, required=%r)"
                     % (var, str(name), kind, str(info.get("description") or ""), bool(info.get("is_required"))))
    lines += ["", "    @step", "    def start(self):", "        self.next(self.end)", "",
              "    @step", "    def end(self):", "        pass", "", "",
              "if __name__ == '__main__':", "    %s()" % flow_name, ""]
    return "\n".join(lines)


def _identifier(text: str, what: str) -> str:
    if not _IDENTIFIER.fullmatch(text or "") or keyword.iskeyword(text):
        raise ValueError("the deployment names %s %r, which is not a Python identifier" % (what, text))
    return text
