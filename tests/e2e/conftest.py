"""The engine targets of the cross-engine end-to-end suites (engines.py): ``target`` is one
server per parameter, limited to the module's ``REAL_CASES`` where CI's time budget says so."""
import pytest

import engines


@pytest.fixture(scope="module", params=list(engines.params()))
def engine_target(request):
    yield from engines.start(request)


@pytest.fixture
def target(request, engine_target):
    return engines.subset(engine_target, request, getattr(request.module, "REAL_CASES", ()))
