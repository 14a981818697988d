"""What every engine's ``DeployerImpl`` shares (Metaflow's contract, metaflow.md §10)."""
import keyword
import re
from typing import Any, Dict, Optional

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


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAM_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "JSON": "JSONType"}


def stub_flow_source(flow_name: str, params: Dict[str, Dict[str, Any]], project: Optional[str] = None) -> str:
    """A stand-in flow file for ``from_deployment`` (what Metaflow's
    ``generate_fake_flow_file_contents`` does), except that every value read back from
    the engine is a ``repr`` literal or a checked identifier: engine-side text (labels,
    input descriptions) never becomes code."""
    _identifier(flow_name, "flow name")
    lines = ["from metaflow import FlowSpec, JSONType, Parameter, project, step", ""]
    if project:
        lines.append("@project(name=%r)" % str(project))
    lines.append("class %s(FlowSpec):" % flow_name)
    for name, info in params.items():
        var = _identifier(info.get("python_var_name") or name.replace("-", "_"), "parameter")
        kind = _PARAM_TYPES.get(info.get("type"), "str")
        lines.append("    %s = Parameter(%r, type=%s, help=%r, required=%r)"
                     % (var, str(name), kind, str(info.get("description") or ""), bool(info.get("is_required"))))
    lines += ["", "    @step", "    def start(self):", "        self.next(self.end)", "",
              "    @step", "    def end(self):", "        pass", "", "",
              "if __name__ == '__main__':", "    %s()" % flow_name, ""]
    return "\n".join(lines)


def _identifier(text: str, what: str) -> str:
    if not _IDENTIFIER.fullmatch(text or "") or keyword.iskeyword(text):
        raise ValueError("the deployment names %s %r, which is not a Python identifier" % (what, text))
    return text
