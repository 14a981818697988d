"""The Deployer's objects for Windmill: the shared ones (``..deployer_objects``) with
Windmill's names (``windmill_ui``, ``windmill_job``)."""
from __future__ import annotations

from typing import Any, Dict

from ..deployer_objects import EngineDeployedFlow, EngineTriggeredRun
from .backend import ENGINE


class WindmillTriggeredRun(EngineTriggeredRun):
    ENGINE = ENGINE

    @property
    def job_id(self) -> str:
        return self.engine_run_id

    @property
    def windmill_job(self) -> Dict[str, Any]:
        return self.engine_run

    @property
    def windmill_ui(self) -> str:
        return self.ui_url


class WindmillDeployedFlow(EngineDeployedFlow):
    TYPE = "windmill"
    ENGINE = ENGINE
    RUN_TYPE = WindmillTriggeredRun
