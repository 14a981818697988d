"""What every engine's ``DeployerImpl`` shares (Metaflow's contract, metaflow.md §10)."""
from typing import Any, Dict

from metaflow.runner.deployer_impl import DeployerImpl


class EngineDeployer(DeployerImpl):
    """``deployer_kwargs`` is a read-only property in Metaflow: store ``_deployer_kwargs``
    before the base initialiser runs."""

    def __init__(self, deployer_kwargs: Dict[str, Any], **kwargs):
        self._deployer_kwargs = deployer_kwargs
        super().__init__(**kwargs)

    @property
    def deployer_kwargs(self) -> Dict[str, Any]:
        return self._deployer_kwargs
