"""Shared fixtures: one emulator per test module and a small REST client for it."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from metaflow_orchestrators.emulators.windmill import start
from wmhelpers import TOKEN, WORKSPACE, Windmill


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with start(token=TOKEN, workspace=WORKSPACE, worker_env={"WM_TEST_SECRET": "s3cret", "WM_TEST_OTHER": "x",
                                                              "METAFLOW_TEST_A": "a"},
               whitelist_env=("WM_TEST_SECRET", "METAFLOW_*")) as handle:
        yield handle


@pytest.fixture(scope="module")
def wm(emulator: Any) -> Iterator[Windmill]:
    client = Windmill(emulator.url)
    yield client
    client.http.close()


