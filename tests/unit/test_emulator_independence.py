"""The emulators are a second implementation of the ENGINE: they must not import our
compiler/runtime (``metaflow_extensions``) nor Metaflow, or tests would agree with
themselves."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "metaflow_orchestrators" / "emulators"
FORBIDDEN = ("metaflow", "metaflow_extensions")


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_emulator_module_imports_neither_metaflow_nor_our_compiler(path):
    bad = [m for m in _imports(path) if m.split(".")[0] in FORBIDDEN]
    assert not bad, "%s imports %s" % (path.name, bad)
