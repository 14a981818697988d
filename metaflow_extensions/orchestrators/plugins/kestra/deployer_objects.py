"""The Deployer's objects for Kestra: the shared ones (``..deployer_common``) plus
Kestra's names (``kestra_ui``, ``kestra_execution``) and its in-place ``resume``."""
from __future__ import annotations

from typing import Any, Dict

from ..deployer_objects import EngineDeployedFlow, EngineTriggeredRun, run_command
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

    def resume(self, origin_run_id: str, **kwargs) -> KestraTriggeredRun:
        """Re-run the failed steps of ``origin_run_id`` in place (Kestra restart): the
        same Metaflow run continues. Re-running from a chosen step or with new
        parameter values is not supported on Kestra yet."""
        if kwargs.get("step_to_rerun") or any(k not in ("wait", "max_wait") for k in kwargs):
            raise NotImplementedError("Kestra resume re-runs the failed steps of a run in place; "
                                      "step_to_rerun and new parameter values are not supported")
        content = run_command(self.deployer, ENGINE, "resume", dict(kwargs, clone_run_id=origin_run_id))
        return KestraTriggeredRun(deployer=self.deployer, content=content)
