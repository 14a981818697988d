"""Deployer API provider: ``Deployer("flow.py").windmill(...)``."""
from ..deployer_common import EngineDeployer


class WindmillDeployer(EngineDeployer):
    TYPE = "windmill"

    @staticmethod
    def deployed_flow_type():
        raise NotImplementedError("the Windmill back end is not implemented yet")

    def create(self, **kwargs):
        raise NotImplementedError("the Windmill back end is not implemented yet")
