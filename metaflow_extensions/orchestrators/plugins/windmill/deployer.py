"""Deployer API provider: ``Deployer("flow.py").windmill(...).create().trigger(alpha=3)``.

The deployment id (``DeployedFlow.name``) is the Windmill flow path (``f/<folder>/<name>``);
the token handed to the Deployer travels to its subprocesses as ``WINDMILL_TOKEN``, never
as a command-line argument or in an attribute file.
"""
from __future__ import annotations

from ..deployer_common import EngineDeployer


class WindmillDeployer(EngineDeployer):
    TYPE = "windmill"
    SECRET_OPTIONS = {"windmill_token": "WINDMILL_TOKEN"}
    CONNECTION_OPTIONS = ("windmill_host", "windmill_workspace", "windmill_folder")

    @property
    def ENGINE(self):
        from .backend import ENGINE

        return ENGINE

    @staticmethod
    def deployed_flow_type():
        # Imported late, as for Kestra: Metaflow's deployer classes import the plugin registry.
        from .deployer_objects import WindmillDeployedFlow

        return WindmillDeployedFlow
