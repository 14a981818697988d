"""The Deployer's objects for Kestra: the shared ones (``..deployer_common``) plus
Kestra's names (``kestra_ui``, ``kestra_execution``). ``resume(..., in_place=True)`` is
Kestra's restart of the execution (backend.py)."""
from __future__ import annotations

from typing import Any, Dict

from ..deployer_objects import EngineDeployedFlow, EngineTriggeredRun
from .backend import ENGINE


class KestraTriggeredRun(EngineTriggeredRun):
    ENGINE = ENGINE

    @property
    def execution_id(self) -> str:
        return self.engine_run_id

    @property
    def kestra_execution(self) -> Dict[str, Any]:
        return self.engine_run

    @property
    def kestra_ui(self) -> str:
        return self.ui_url


class KestraDeployedFlow(EngineDeployedFlow):
    TYPE = "kestra"
    ENGINE = ENGINE
    RUN_TYPE = KestraTriggeredRun
