"""Deployer API provider: ``Deployer("flow.py").windmill(...)``."""
from typing import Any, Dict

from metaflow.runner.deployer_impl import DeployerImpl


class WindmillDeployer(DeployerImpl):
    TYPE = "windmill"

    def __init__(self, deployer_kwargs: Dict[str, Any], **kwargs):
        self._deployer_kwargs = deployer_kwargs
        super().__init__(**kwargs)

    @property
    def deployer_kwargs(self) -> Dict[str, Any]:
        return self._deployer_kwargs

    @staticmethod
    def deployed_flow_type():
        raise NotImplementedError("the Windmill back end is not implemented yet")

    def create(self, **kwargs):
        raise NotImplementedError("the Windmill back end is not implemented yet")
