"""Deployer API provider: ``Deployer("flow.py").kestra(...).create().trigger(alpha=3)``.

The deployment id (``DeployedFlow.name``) is the Kestra flow id; connection settings
come from the environment or the Metaflow config when the objects are rebuilt, and
credentials handed to the Deployer travel to its subprocesses as environment
variables, never as command-line arguments or in an attribute file.
"""
from __future__ import annotations

from ..deployer_common import EngineDeployer


class KestraDeployer(EngineDeployer):
    TYPE = "kestra"
    SECRET_OPTIONS = {"kestra_password": "KESTRA_PASSWORD", "kestra_token": "KESTRA_TOKEN"}
    CONNECTION_OPTIONS = ("kestra_host", "kestra_user", "kestra_tenant", "kestra_namespace")

    @property
    def ENGINE(self):
        from .backend import ENGINE

        return ENGINE

    @staticmethod
    def deployed_flow_type():
        # Imported late: Metaflow's deployer classes import the plugin registry, which
        # imports this module (Argo's deployer splits its objects out the same way).
        from .deployer_objects import KestraDeployedFlow

        return KestraDeployedFlow
