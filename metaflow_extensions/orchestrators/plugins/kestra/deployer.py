"""Deployer API provider: ``Deployer("flow.py").kestra(...).create().trigger(alpha=3)``.

The deployment id (``DeployedFlow.name``) is the Kestra flow id; connection settings
come from the environment or the Metaflow config when the objects are rebuilt, and
credentials handed to the Deployer travel to its subprocesses as environment
variables, never as command-line arguments or in an attribute file.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..deployer_common import EngineDeployer

# Deployer keyword -> the variable the CLI reads instead (kept off command lines).
_SECRET_OPTIONS = {"kestra_password": "KESTRA_PASSWORD", "kestra_token": "KESTRA_TOKEN"}
_CONNECTION_OPTIONS = ("kestra_host", "kestra_user", "kestra_tenant", "kestra_namespace")


class KestraDeployer(EngineDeployer):
    TYPE = "kestra"

    def __init__(self, deployer_kwargs: Dict[str, Any], **kwargs):
        secrets = _pop_secrets(deployer_kwargs)
        deployer_kwargs = {k: v for k, v in deployer_kwargs.items() if v is not None}
        super().__init__(deployer_kwargs, **kwargs)
        self.env_vars.update(secrets)

    @staticmethod
    def deployed_flow_type():
        # Imported late: Metaflow's deployer classes import the plugin registry, which
        # imports this module (Argo's deployer splits its objects out the same way).
        from .deployer_objects import KestraDeployedFlow

        return KestraDeployedFlow

    def create(self, **kwargs) -> "KestraDeployedFlow":
        self.env_vars.update(_pop_secrets(kwargs))
        # Connection options given to create() (as the orchestrator kit does) belong to
        # the deployment: later trigger/status calls must reach the same server.
        for key in _CONNECTION_OPTIONS:
            if kwargs.get(key) is not None:
                self._deployer_kwargs[key] = kwargs.pop(key)
        return self._create(self.deployed_flow_type(), **kwargs)

    def from_deployment(self, identifier: str, metadata: Optional[str] = None) -> "KestraDeployedFlow":
        from .deployer_objects import connection_of, from_deployment

        return from_deployment(identifier, metadata, connection_of(self))


def _pop_secrets(kwargs: Dict[str, Any]) -> Dict[str, str]:
    return {env: str(kwargs.pop(key)) for key, env in _SECRET_OPTIONS.items() if kwargs.get(key) is not None}


