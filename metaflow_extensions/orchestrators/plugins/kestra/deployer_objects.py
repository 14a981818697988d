"""The Deployer's objects for Kestra: ``KestraDeployedFlow`` and ``KestraTriggeredRun``."""
from __future__ import annotations

import json
import sys
import tempfile
from typing import Any, Dict, Iterator, Optional

from metaflow.runner.deployer import DeployedFlow, TriggeredRun
from metaflow.runner.utils import get_lower_level_group, handle_timeout, temporary_fifo

from ..deployer_common import stub_flow_source
from . import deployment as dep


def connection_of(deployer) -> dep.Connection:
    """The deployer's server: its keyword arguments, else the environment its
    subprocesses get (where credentials handed to the Deployer went)."""
    kw = getattr(deployer, "deployer_kwargs", None) or {}
    env = getattr(deployer, "env_vars", None) or {}
    values = [kw.get("kestra_" + key) or env.get("KESTRA_" + key.upper())
              for key in ("host", "user", "password", "token", "tenant", "namespace")]
    return dep.connection(*values)


class KestraTriggeredRun(TriggeredRun):
    """A run of a deployed flow; its status comes from Kestra (not only from Metaflow,
    so a run that dies before ``init`` still ends FAILED)."""

    @property
    def execution_id(self) -> str:
        return dep.execution_id(self.pathspec)

    @property
    def kestra_execution(self) -> Dict[str, Any]:
        with connection_of(self.deployer).client() as client:
            return client.get_execution(self.execution_id)

    @property
    def status(self) -> str:
        return dep.status_of(self.kestra_execution)

    @property
    def kestra_ui(self) -> str:
        conn = connection_of(self.deployer)
        with conn.client() as client:
            return client.ui_url(conn.namespace, self.deployer.name, self.execution_id)

    def is_running(self) -> bool:
        return self.status in ("PENDING", "RUNNING")

    def wait_for_completion(self, check_interval: int = 5, timeout: Optional[int] = None) -> str:
        with connection_of(self.deployer).client() as client:
            execution = client.wait(self.execution_id, max_wait=timeout, poll=check_interval)
        return dep.status_of(execution)

    def terminate(self, **kwargs) -> bool:
        with connection_of(self.deployer).client() as client:
            client.kill(self.execution_id)
        return True


class KestraDeployedFlow(DeployedFlow):
    TYPE = "kestra"

    def trigger(self, **kwargs) -> KestraTriggeredRun:
        """Start a run; flow parameters as keyword arguments (``alpha=3``)."""
        content = _run_command(self.deployer, "trigger", kwargs)
        return KestraTriggeredRun(deployer=self.deployer, content=content)

    def resume(self, origin_run_id: str, **kwargs) -> KestraTriggeredRun:
        """Re-run the failed steps of ``origin_run_id`` in place (Kestra restart): the
        same Metaflow run continues. Re-running from a chosen step or with new
        parameter values is not supported on Kestra yet."""
        if kwargs.get("step_to_rerun") or any(k not in ("wait", "max_wait") for k in kwargs):
            raise NotImplementedError("Kestra resume re-runs the failed steps of a run in place; "
                                      "step_to_rerun and new parameter values are not supported")
        content = _run_command(self.deployer, "resume", dict(kwargs, clone_run_id=origin_run_id))
        return KestraTriggeredRun(deployer=self.deployer, content=content)

    def delete(self, **kwargs) -> bool:
        conn = connection_of(self.deployer)
        with conn.client() as client:
            client.delete_flow(conn.namespace, self.deployer.name)
        return True

    @classmethod
    def from_deployment(cls, identifier: str, metadata: Optional[str] = None) -> "KestraDeployedFlow":
        """Rebuild from what the deployment itself stores (labels and inputs), without the
        original flow file."""
        return from_deployment(identifier, metadata, dep.connection())

    @classmethod
    def list_deployed_flows(cls, flow_name: Optional[str] = None) -> Iterator["KestraDeployedFlow"]:
        conn = dep.connection()
        with conn.client() as client:
            flows = client.list_flows(conn.namespace)
        for flow in flows:
            labels = dep.flow_labels(flow)
            if dep.LABEL_FLOW in labels and (flow_name is None or labels[dep.LABEL_FLOW] == flow_name):
                yield from_deployment(flow["id"], None, conn)

    @classmethod
    def get_triggered_run(cls, identifier: str, run_id: str, metadata: Optional[str] = None) -> KestraTriggeredRun:
        deployed = cls.from_deployment(identifier, metadata)
        content = json.dumps({"metadata": deployed.deployer.metadata, "name": deployed.deployer.name,
                              "pathspec": "%s/%s" % (deployed.deployer.flow_name, run_id)})
        return KestraTriggeredRun(deployer=deployed.deployer, content=content)


def from_deployment(identifier: str, metadata: Optional[str], conn: dep.Connection) -> KestraDeployedFlow:
    from metaflow import Deployer
    from metaflow.client.core import get_metadata

    namespace, fid = dep.split_identifier(identifier, conn.namespace)
    with conn.client() as client:
        flow = client.get_flow(namespace, fid)
    if flow is None:
        raise ValueError("no Kestra flow %s/%s" % (namespace, fid))
    labels = dep.flow_labels(flow)
    flow_name = labels.get(dep.LABEL_FLOW) or fid.split(".")[-1]
    # The parameter types as the deployment declared them (vars.metaflow.init), else the inputs'.
    declared = (((flow.get("variables") or {}).get("metaflow") or {}).get("init") or {}).get("params") or {}
    params = {i["id"]: {"python_var_name": i["id"].replace("-", "_"), "name": i["id"],
                        "type": _PARAM_TYPES.get(declared.get(i["id"]) or i.get("type"), "str"),
                        "description": i.get("description"),
                        "is_required": bool(i.get("required")) and "defaults" not in i}
              for i in flow.get("inputs") or [] if i["id"] != "metaflow_event"}
    project_kwargs = _project_kwargs(labels.get(dep.LABEL_BRANCH))
    source = stub_flow_source(flow_name, params, labels.get(dep.LABEL_PROJECT))
    stub = tempfile.NamedTemporaryFile(suffix=".py", delete=False, mode="w")
    with stub:
        stub.write(source)
    env = {"METAFLOW_USER": labels[dep.LABEL_OWNER]} if labels.get(dep.LABEL_OWNER) else {}
    # The same server and credentials (the Deployer moves secrets into its environment).
    deployer = Deployer(stub.name, env=env, **project_kwargs).kestra(
        name=fid, kestra_host=conn.host, kestra_user=conn.user, kestra_password=conn.password,
        kestra_token=conn.token, kestra_tenant=conn.tenant, kestra_namespace=namespace)
    deployer.name = fid
    deployer.flow_name = flow_name
    deployer.metadata = metadata or get_metadata()
    return KestraDeployedFlow(deployer=deployer)


_PARAM_TYPES = {"INT": "int", "FLOAT": "float", "BOOL": "bool", "BOOLEAN": "bool", "STRING": "str", "JSON": "JSON"}


def _project_kwargs(branch: Optional[str]) -> Dict[str, Any]:
    if not branch:
        return {}
    if branch == "prod":
        return {"production": True}
    if branch.startswith("prod."):
        return {"production": True, "branch": branch[len("prod."):]}
    if branch.startswith("test."):
        return {"branch": branch[len("test."):]}
    return {}


def _run_command(deployer, command: str, kwargs: Dict[str, Any]) -> str:
    """Run ``python flow.py kestra <command>`` as Metaflow's deployers do and return the
    attribute-file content it wrote."""
    with temporary_fifo() as (path, fd):
        args = get_lower_level_group(deployer.api, deployer.top_level_kwargs, deployer.TYPE,
                                     deployer.deployer_kwargs)
        argv = getattr(args, command)(deployer_attribute_file=path, **kwargs)
        pid = deployer.spm.run_command([sys.executable, *argv], env=deployer.env_vars, cwd=deployer.cwd,
                                       show_output=deployer.show_output)
        process = deployer.spm.get(pid)
        content = handle_timeout(fd, process, deployer.file_read_timeout)
        process.sync_wait()
        if process.process.returncode == 0:
            return content
    raise RuntimeError("`kestra %s` failed for %s (exit %s)" % (command, deployer.flow_file, process.process.returncode))
