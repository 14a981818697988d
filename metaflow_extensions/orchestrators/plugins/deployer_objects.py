"""The Deployer's objects every engine shares: ``DeployedFlow`` and ``TriggeredRun``
written once against the engine contract (``engine.Engine``). An engine subclasses them,
setting ``ENGINE`` and ``TYPE``, and adds only what is its own (its names for the run and its UI)."""
from __future__ import annotations

import json
import sys
import tempfile
from typing import Any, Dict, Iterator, Optional, Type

from metaflow.runner.deployer import DeployedFlow, TriggeredRun

from .deployer_common import stub_flow_source
from .engine import DeploymentFacts, Engine, project_kwargs


# ``resume``'s own options (resume_cli.py); every other keyword of ``resume()`` is a parameter.
RESUME_OPTIONS = frozenset({"wait", "max_wait", "in_place", "run_id_file", "run_params", "branch", "production"})


def connection_of(deployer, engine: Engine):
    """The deployer's server: its keyword arguments, else its subprocesses' environment."""
    return engine.connection_from(getattr(deployer, "deployer_kwargs", None) or {},
                                  getattr(deployer, "env_vars", None) or {})


class EngineTriggeredRun(TriggeredRun):
    """A run of a deployed flow; its status comes from the engine (not only from Metaflow,
    so a run that dies before its first step still ends FAILED)."""

    ENGINE: Engine

    @property
    def engine_run_id(self) -> str:
        return self.ENGINE.engine_run_id(self.pathspec)

    def _client(self):
        return connection_of(self.deployer, self.ENGINE).client()

    @property
    def engine_run(self) -> Dict[str, Any]:
        with self._client() as client:
            return self.ENGINE.get_run(client, self.engine_run_id)

    @property
    def status(self) -> str:
        return self.ENGINE.status_of(self.engine_run)

    @property
    def ui_url(self) -> str:
        conn = connection_of(self.deployer, self.ENGINE)
        with conn.client() as client:
            return self.ENGINE.ui_url(client, conn, self.deployer.name, self.engine_run_id)

    def is_running(self) -> bool:
        return self.status in ("PENDING", "RUNNING")

    def wait_for_completion(self, check_interval: int = 5, timeout: Optional[int] = None) -> str:
        with self._client() as client:
            run = self.ENGINE.wait(client, self.engine_run_id, timeout, check_interval)
        return self.ENGINE.status_of(run)

    def terminate(self, **kwargs) -> bool:
        with self._client() as client:
            self.ENGINE.terminate(client, self.engine_run_id)
        return True


class EngineDeployedFlow(DeployedFlow):
    ENGINE: Engine
    RUN_TYPE: Type[EngineTriggeredRun]

    def trigger(self, **kwargs) -> EngineTriggeredRun:
        """Start a run; flow parameters as keyword arguments (``alpha=3``)."""
        content = run_command(self.deployer, self.ENGINE, "trigger", kwargs)
        return self.RUN_TYPE(deployer=self.deployer, content=content)

    def resume(self, origin_run_id: str, step_to_rerun: Optional[str] = None, **kwargs) -> EngineTriggeredRun:
        """A new run resuming ``origin_run_id`` as Metaflow's resume does: what succeeded is
        cloned, the rest runs; ``step_to_rerun`` re-runs from that step. Parameter values
        that differ from the origin's make every step run with them (resume_cli.py)."""
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in RESUME_OPTIONS}
        if step_to_rerun:
            options["step"] = step_to_rerun
        # Parameters by name (resume's parameter options are not in Metaflow's click API).
        options["run_params"] = list(options.get("run_params") or ()) + [
            "%s=%s" % (name, value if isinstance(value, str) else json.dumps(value)) for name, value in kwargs.items()]
        content = run_command(self.deployer, self.ENGINE, "resume", dict(options, clone_run_id=origin_run_id))
        return self.RUN_TYPE(deployer=self.deployer, content=content)

    def delete(self, **kwargs) -> bool:
        conn = connection_of(self.deployer, self.ENGINE)
        with conn.client() as client:
            self.ENGINE.delete(client, conn, self.deployer.name)
        return True

    @classmethod
    def from_deployment(cls, identifier: str, metadata: Optional[str] = None):
        """Rebuild from what the deployment itself stores, without the original flow file;
        the server and credentials come from the environment or the Metaflow config."""
        return cls.rebuild(identifier, metadata, cls.ENGINE.connection({}))

    @classmethod
    def list_deployed_flows(cls, flow_name: Optional[str] = None) -> Iterator["EngineDeployedFlow"]:
        conn = cls.ENGINE.connection({})
        with conn.client() as client:
            names = cls.ENGINE.list_deployments(client, conn, flow_name)
        for name in names:
            yield cls.rebuild(name, None, conn)

    @classmethod
    def get_triggered_run(cls, identifier: str, run_id: str, metadata: Optional[str] = None) -> EngineTriggeredRun:
        deployed = cls.from_deployment(identifier, metadata)
        content = json.dumps({"metadata": deployed.deployer.metadata, "name": deployed.deployer.name,
                              "pathspec": "%s/%s" % (deployed.deployer.flow_name, run_id)})
        return cls.RUN_TYPE(deployer=deployed.deployer, content=content)

    @classmethod
    def rebuild(cls, identifier: str, metadata: Optional[str], conn) -> "EngineDeployedFlow":
        from metaflow import Deployer
        from metaflow.client.core import get_metadata

        with conn.client() as client:
            facts = _describe(cls.ENGINE, client, conn, identifier)
        stub = tempfile.NamedTemporaryFile(suffix=".py", delete=False, mode="w")
        with stub:
            stub.write(stub_flow_source(facts.flow_name, facts.params, facts.project))
        env = {"METAFLOW_USER": facts.owner} if facts.owner else {}
        # The same server and credentials (the Deployer moves secrets into its environment).
        deployer = getattr(Deployer(stub.name, env=env, **project_kwargs(facts.branch)), cls.ENGINE.name)(
            name=facts.name, **facts.connection_kwargs)
        deployer.name = facts.name
        deployer.flow_name = facts.flow_name
        deployer.metadata = metadata or get_metadata()
        return cls(deployer=deployer)


def _describe(engine: Engine, client, conn, identifier: str) -> DeploymentFacts:
    """The deployment named ``identifier``; else the one deployment of the Metaflow flow
    of that name (a @project flow is deployed as ``project.branch.Flow``)."""
    try:
        return engine.describe_deployment(client, conn, identifier)
    except LookupError:
        candidates = engine.list_deployments(client, conn, identifier)
        if len(candidates) == 1:
            return engine.describe_deployment(client, conn, candidates[0])
        if candidates:
            raise LookupError("the flow %s has %d deployments on %s: %s; name one"
                              % (identifier, len(candidates), engine.title, ", ".join(sorted(candidates)))) from None
        raise


def run_command(deployer, engine: Engine, command: str, kwargs: Dict[str, Any]) -> str:
    """Run ``python flow.py <engine> <command>`` as Metaflow's deployers do and return the
    attribute-file content it wrote."""
    from metaflow.runner.utils import get_lower_level_group, handle_timeout, temporary_fifo

    with temporary_fifo() as (path, fd):
        args = get_lower_level_group(deployer.api, deployer.top_level_kwargs, deployer.TYPE,
                                     deployer.deployer_kwargs)
        argv = getattr(args, command)(deployer_attribute_file=path, **kwargs)
        for arg in argv:
            if "\x00" in str(arg):
                raise ValueError("%s %s: a value holds a NUL character, which no process argument can carry: %r"
                                 % (engine.name, command, arg))
        pid = deployer.spm.run_command([sys.executable, *argv], env=deployer.env_vars, cwd=deployer.cwd,
                                       show_output=deployer.show_output)
        process = deployer.spm.get(pid)
        content = handle_timeout(fd, process, deployer.file_read_timeout)
        process.sync_wait()
        if process.process.returncode == 0:
            return content
    raise RuntimeError("`%s %s` failed for %s (exit %s): %s"
                       % (engine.name, command, deployer.flow_file, process.process.returncode, cli_error(process)))


def cli_error(process) -> str:
    """The CLI's own message (the end of its stderr), so a Deployer failure says what went wrong."""
    path = (getattr(process, "log_files", None) or {}).get("stderr")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle.read().splitlines() if line.strip()]
    except (OSError, TypeError):
        return "see the command's output"
    return " ".join(lines[-3:]) or "no message"
