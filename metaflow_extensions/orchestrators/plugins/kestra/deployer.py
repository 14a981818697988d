"""Deployer API provider: ``Deployer("flow.py").kestra(...)``."""
from ..deployer_common import EngineDeployer


class KestraDeployer(EngineDeployer):
    TYPE = "kestra"

    @staticmethod
    def deployed_flow_type():
        raise NotImplementedError("the Kestra back end is not implemented yet")

    def create(self, **kwargs):
        raise NotImplementedError("the Kestra back end is not implemented yet")
