"""Conformance-suite settings: the `emulator_internals` marker skips a test when the suite targets a
real Kestra (KESTRA_HOST, or kestra_helpers.use_real_server)."""
import pytest

from kestra_helpers import Emulator, real_server


def pytest_configure(config):
    config.addinivalue_line("markers", "emulator_internals: reads the emulator's state; skipped on a real server")


def pytest_collection_modifyitems(config, items):
    if real_server() is None:
        return
    skip = pytest.mark.skip(reason="needs the emulator's internals; the suite targets a real Kestra")
    here = str(config.rootpath / "tests" / "emulators" / "kestra")
    for item in items:
        if not str(item.fspath).startswith(here):
            continue
        item.add_marker(pytest.mark.real_kestra)  # the suite runs against the real server
        if "emulator_internals" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module", params=[1, 2])
def both(request, tmp_path_factory):
    """The conformance target of each major version: the emulator, or the real server."""
    target = Emulator(request.param, str(tmp_path_factory.mktemp("both%d" % request.param)))
    yield target
    target.close()
