"""The engine contract: what the shared CLI commands and Deployer objects need from a back end.

Each engine folder implements one :class:`Engine` (its options, how it compiles and
deploys a plan, how it starts, follows, lists and stops runs); everything users type
(`create`, `trigger`, `run --wait`, `status`, `list-runs`, `terminate`, `logs`) and the
Deployer objects are written once, against this class, in ``cli_common`` and
``deployer_common``. A third engine is one new folder implementing it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from .plan import Capabilities, Plan
from .plan.errors import PlanError
from .runtime import ids
from .runtime.resume import ResumeRequest

class StepState(NamedTuple):
    """One step task of a run as the engine reports it: "train [2]: RUNNING (attempt 2/3)"."""

    label: str  # step name, then the foreach index path: "train [2]"
    state: str
    attempt: int = 1  # 1-based, as the engine counts it

    @property
    def step(self) -> str:
        return self.label.split(" ", 1)[0]


@dataclass(frozen=True)
class Deployed:
    """What ``create`` did: the deployment id (``DeployedFlow.name``), where it went (for
    the user), and what the Deployer's attribute file records about it."""

    name: str
    flow_name: str
    where: str
    info: Dict[str, Any] = field(default_factory=dict)
    notes: Tuple[Tuple[str, Optional[str]], ...] = ()  # (message, colour) printed after deploying


@dataclass(frozen=True)
class RunSummary:
    run_id: str  # the Metaflow run id (<engine>-<engine run id>)
    status: str  # PENDING / RUNNING / SUCCEEDED / FAILED / ABORTED
    started: str = ""


@dataclass(frozen=True)
class Failure:
    step: str
    lines: Tuple[str, ...]


class Engine:
    """One orchestrator back end. ``name`` is the CLI group, the run id prefix and the
    Deployer TYPE; ``title`` is how messages call it."""

    name = "engine"
    title = "Engine"
    run_noun = "run"  # what the engine calls one run of a flow ("execution", "job")
    engine_line_prefixes: Tuple[str, ...] = ()  # the engine's own lines in a task's log
    capabilities: Capabilities

    # ---- options (click decorators) ------------------------------------------------------
    def connection_options(self) -> List[Callable]:
        """Host and credentials, also accepted on the group (the Deployer puts them there)."""
        raise NotImplementedError

    def name_option(self) -> Callable:
        raise NotImplementedError

    def deploy_options(self) -> List[Callable]:
        """Options of ``create``/``run``/``compile`` beyond the shared ones."""
        return []

    def create_options(self) -> List[Callable]:
        """Options only ``create``/``run`` have (they reach a server)."""
        return []

    def compile_options(self) -> List[Callable]:
        """Options only ``compile`` has (it reaches no server)."""
        return []

    def resume_options(self) -> List[Callable]:
        """Options of ``resume`` beyond the shared ones (another way to resume)."""
        return []

    def resume_in_place_requested(self, kw: Dict[str, Any]) -> bool:
        """Whether ``resume``'s options ask for the engine's own restart of the run."""
        return False

    def resume_in_place(self, obj, commands, origin_run_id: str, kw: Dict[str, Any]) -> None:
        raise NotImplementedError

    # ---- connection -------------------------------------------------------------------------
    def connection(self, kw: Mapping[str, Any]):
        """Options first, then the environment, then the Metaflow config. The object has
        ``client()`` and is never serialised (it may hold credentials)."""
        raise NotImplementedError

    def connection_from(self, kwargs: Mapping[str, Any], env: Mapping[str, str]):
        """The Deployer's server: its keyword arguments, else the environment it gives its
        subprocesses (where credentials handed to the Deployer went)."""
        raise NotImplementedError

    def deployer_connection_kwargs(self, conn, namespace: Optional[str] = None) -> Dict[str, Any]:
        """Deployer keyword arguments that reach ``conn`` again (``from_deployment``)."""
        raise NotImplementedError

    # ---- deployments ------------------------------------------------------------------------
    def deployment_name(self, plan: Plan, name: Optional[str]) -> str:
        raise NotImplementedError

    def compile_text(self, obj, plan: Plan, kw: Mapping[str, Any]) -> str:
        """The engine document for ``plan`` as text, without a server."""
        raise NotImplementedError

    def deploy(self, obj, plan: Plan, kw: Mapping[str, Any], client, conn) -> Deployed:
        """Compile for the server ``client`` talks to and create or update the deployment."""
        raise NotImplementedError

    def delete(self, client, conn, name: str) -> None:
        raise NotImplementedError

    def list_deployments(self, client, conn, flow_name: Optional[str]) -> List[str]:
        """Deployment ids of Metaflow flows (optionally of one flow) on the server."""
        raise NotImplementedError

    def describe_deployment(self, client, conn, identifier: str) -> "DeploymentFacts":
        """What ``from_deployment`` needs, read back from the engine."""
        raise NotImplementedError

    # ---- runs -----------------------------------------------------------------------------
    def run_id(self, engine_run_id: str) -> str:
        return ids.run_id(self.name, engine_run_id)

    def engine_run_id(self, run_or_id: str) -> str:
        """Accepts a Metaflow run id (``<engine>-<id>``), a pathspec or the engine's own id."""
        text = run_or_id.rsplit("/", 1)[-1]
        prefix = self.name + "-"
        return text[len(prefix):] if text.startswith(prefix) else text

    def start(self, client, conn, name: str, inputs: Dict[str, Any], resume: Optional[ResumeRequest] = None) -> str:
        """Start a run of deployment ``name``; returns the engine's run id. ``resume``: the
        run resumes another (runtime/resume.py), which its tasks must be able to read."""
        raise NotImplementedError

    def ui_url(self, client, conn, name: str, engine_run_id: str) -> str:
        raise NotImplementedError

    def get_run(self, client, engine_run_id: str) -> Dict[str, Any]:
        raise NotImplementedError

    def state_of(self, run: Mapping[str, Any]) -> str:
        """The engine's own word for the run's state (shown next to ours)."""
        raise NotImplementedError

    def status_of(self, run: Mapping[str, Any]) -> str:
        """PENDING / RUNNING / SUCCEEDED / FAILED / ABORTED (Metaflow's Deployer words)."""
        raise NotImplementedError

    def wait(self, client, engine_run_id: str, max_wait: Optional[float], poll: float,
             on_update: Optional[Callable[[Dict[str, Any]], None]] = None,
             closing: Optional[Callable[[], bool]] = None) -> Dict[str, Any]:
        """Until the run ended; ``closing()``: whether its last step runs (polled faster)."""
        raise NotImplementedError

    def step_states(self, client, run: Mapping[str, Any]) -> List[StepState]:
        raise NotImplementedError

    def failures(self, client, run: Mapping[str, Any]) -> List[Failure]:
        """The failed steps of an ended run with the end of their output."""
        raise NotImplementedError

    def ending_reason(self, client, run: Mapping[str, Any]) -> Optional[str]:
        """Why an ended run stopped when no step says it (e.g. its --workflow-timeout)."""
        return None

    def list_runs(self, client, conn, name: str, limit: int) -> List[RunSummary]:
        raise NotImplementedError

    def terminate(self, client, engine_run_id: str) -> None:
        raise NotImplementedError

    def logs(self, client, engine_run_id: str, step: Optional[str]) -> Iterable[Tuple[str, str]]:
        """(step, line) of a run's engine logs, optionally of one step."""
        raise NotImplementedError

    # ---- events (@trigger) -----------------------------------------------------------------
    def publish_event(self, client, conn, event: str, payload: Dict[str, Any]) -> List[Tuple[str, str]]:
        """Start every deployed flow listening for ``event``: (deployment name, engine run id)."""
        raise NotImplementedError

    def event_scope(self, conn) -> str:
        """Where ``publish_event`` looks, as messages say it ("namespace metaflow")."""
        raise NotImplementedError


@dataclass(frozen=True)
class DeploymentFacts:
    """A deployment as the engine stores it, enough to rebuild a DeployedFlow."""

    name: str
    flow_name: str
    params: Dict[str, Dict[str, Any]]  # name -> {type, description, is_required}
    project: Optional[str] = None
    branch: Optional[str] = None
    owner: Optional[str] = None
    connection_kwargs: Dict[str, Any] = field(default_factory=dict)


def check_owner(owner: Optional[str], flow_name: str, what: str) -> None:
    """Never replace another flow's deployment without a word: ``owner`` is the Metaflow flow
    the existing deployment records (None: not deployed by us)."""
    if owner != flow_name:
        whose = "Metaflow flow %s" % owner if owner else "no Metaflow flow (it was not deployed by us)"
        raise ValueError("%s already exists and belongs to %s; choose another --name or delete it first"
                         % (what, whose))


def deploy_options(engine: str, obj, plan: Plan, tags=(), namespace=None, code_package: bool = False):
    """What every task's spec records, from the flow Metaflow's CLI loaded. No ``python``:
    the entry runs the step in its own interpreter (``--worker-python``), which is what
    the launcher defaults to. ``code_package``: build and store the flow's code package,
    which the tasks then run from (code_package.py)."""
    import sys

    from metaflow.util import get_username

    from .code_package import build_and_upload
    from .runtime.spec import DeployOptions

    proj = plan.project
    flow_file = os.path.abspath(sys.argv[0])
    environments = step_environments(obj)
    check_environments(environments, obj.flow_datastore.TYPE, code_package)
    return DeployOptions(
        engine=engine,
        flow_file=flow_file,
        code_package=build_and_upload(obj, flow_file) if code_package else None,
        environments=environments,
        env=package_root(obj) if environments else (),
        metadata_sysroot=_metadata_sysroot(obj),
        metadata=obj.metadata.TYPE,
        datastore=obj.flow_datastore.TYPE,
        datastore_root=obj.flow_datastore.datastore_root,
        environment=obj.environment.TYPE,
        event_logger=obj.event_logger.TYPE,
        monitor=obj.monitor.TYPE,
        package_suffixes=",".join(obj.package_suffixes) if obj.package_suffixes else None,
        tags=tuple(tags),
        namespace=namespace,
        branch=proj.raw_branch if proj else None,
        production=bool(proj and proj.production),
        owner=get_username(),
    )


def step_environments(obj) -> Tuple[Tuple[str, str], ...]:
    """(step, environment id) of every step with an enabled @conda/@pypi environment, as
    Metaflow's conda environment names them (CondaEnvironment.get_environment ``id_``)."""
    environment = obj.environment
    if environment.TYPE not in ("conda", "pypi"):
        return ()
    found = []
    for step in obj.flow:
        env_id = environment.get_environment(step).get("id_")
        if env_id:
            found.append((step.name, env_id))
    return tuple(found)


def check_environments(environments: Sequence[Tuple[str, str]], datastore: str, code_package: bool) -> None:
    """@conda/@pypi steps are built on the worker from what the deploy stores, as on Argo
    Workflows: refuse, in one line, what could not work there."""
    if not environments:
        return
    steps = ", ".join(step for step, _ in environments)
    if not code_package:
        raise PlanError("the @conda/@pypi steps (%s) need the code package, which carries their environments' "
                        "manifest: drop --no-code-package" % steps)
    if datastore == "local":
        raise PlanError("the @conda/@pypi steps (%s) need a remote datastore (--datastore=s3): the deploy caches "
                        "their packages there and each task builds its environment from them; Metaflow caches "
                        "none in a local datastore" % steps)


def package_root(obj) -> Tuple[Tuple[str, str], ...]:
    """Where the deploy cached the environments' packages (metaflow/plugins/pypi/__init__.py
    ``_datastore_packageroot``: Metaflow's config, else ``<datastore sysroot>/conda``), which a
    task's bootstrap reads from its own config: passed on, since a worker's config may not say."""
    from metaflow.plugins import DATASTORES
    from metaflow.plugins.pypi import _datastore_packageroot

    kind = obj.flow_datastore.TYPE
    storage = next(d for d in DATASTORES if d.TYPE == kind)
    return (("METAFLOW_CONDA_PACKAGE_%sROOT" % kind.upper(), _datastore_packageroot(storage, lambda *a, **k: None)),)


def _metadata_sysroot(obj) -> Optional[str]:
    """Local metadata beside a remote datastore lives under the local sysroot this machine
    uses (Metaflow's own lookup: METAFLOW_DATASTORE_SYSROOT_LOCAL, else a .metaflow found from
    the working directory): the tasks must write it there too."""
    if obj.metadata.TYPE != "local" or obj.flow_datastore.TYPE == "local":
        return None
    from metaflow.plugins.datastores.local_storage import LocalStorage

    root = LocalStorage.get_datastore_root_from_config(lambda *a, **k: None)
    return os.path.dirname(root.rstrip("/")) if root else None


def setting(value: Optional[str], name: str) -> Optional[str]:
    """An option, else the environment as it is now, else the Metaflow config."""
    if value is not None:
        return value
    from metaflow import metaflow_config as config

    return os.environ.get(name) or getattr(config, name, None)


def project_kwargs(branch: Optional[str]) -> Dict[str, Any]:
    """Deployer keyword arguments that give back a deployment's @project branch."""
    if not branch:
        return {}
    if branch == "prod":
        return {"production": True}
    if branch.startswith("prod."):
        return {"production": True, "branch": branch[len("prod."):]}
    if branch.startswith("test."):
        return {"branch": branch[len("test."):]}
    return {}


def decorate(f: Callable, options: Sequence[Callable]) -> Callable:
    """Apply click option decorators in the order they are listed (first is outermost)."""
    for option in reversed(list(options)):
        f = option(f)
    return f
