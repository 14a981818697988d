# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
PYTEST_WORKERS ?= 2

.PHONY: install reinstall demo test test-fast test-real test-real-engine test-kit bench

install:
	$(PYTHON) -m pip install -q '.[test]'

demo:
	$(PYTHON) examples/demo.py $(ARGS)

# Tests run against the INSTALLED package (what Metaflow's extension loader and every flow
# subprocess see), so `make test` reinstalls the checkout first; -P keeps the checkout
# itself off sys.path (two copies of one extension make Metaflow refuse to import).
PYTEST = $(PYTHON) -P -m pytest -p no:cacheprovider -q -rs

# Everything on the emulators, then the same real-server tests against Kestra's own engine,
# one session per major (realservers/kestra; `make test REAL_ENGINE=` skips that part).
REAL_ENGINE ?= 1 2

test: reinstall
	$(PYTEST) -n $(PYTEST_WORKERS) --dist loadgroup
	$(PYTHON) -P tests/kit/run_kit.py
	@for major in $(REAL_ENGINE); do \
	  echo "== the real Kestra engine, major $$major: conformance suite, examples, CLI and Deployer"; \
	  $(PYTEST) --real-kestra $$major -m real_kestra -n $(PYTEST_WORKERS) --dist loadgroup \
	    tests/emulators/kestra tests/kestra tests/e2e || exit 1; \
	done
	@$(PYTHON) tests/verification_matrix.py || true

# Only the real-engine part (both majors, or REAL_ENGINE=1 / =2).
test-real-engine: reinstall
	@for major in $(REAL_ENGINE); do \
	  $(PYTEST) --real-kestra $$major -m real_kestra -n $(PYTEST_WORKERS) --dist loadgroup \
	    tests/emulators/kestra tests/kestra tests/e2e || exit 1; \
	done
	@$(PYTHON) tests/verification_matrix.py || true

# Metaflow's orchestrator acceptance kit (PyPI metaflow-orchestrator-kit) on both emulators.
test-kit: reinstall
	$(PYTHON) -P tests/kit/run_kit.py

test-fast: reinstall
	$(PYTEST) -m "not e2e"

# The Kestra end-to-end suite against a real server (docker-compose.yml): set KESTRA_HOST,
# KESTRA_USER, KESTRA_PASSWORD and a METAFLOW_DATASTORE_SYSROOT_LOCAL the server's worker shares.
# The real-server tests against servers you run (docker-compose.yml): Kestra at KESTRA_HOST,
# Windmill at WINDMILL_HOST (+ WINDMILL_TOKEN, WINDMILL_WORKSPACE); each skips when unset.
test-real: reinstall
	$(PYTEST) -m "real_kestra or real_windmill" tests/kestra tests/windmill tests/emulators/windmill

reinstall:
	$(PYTHON) -m pip install -q --no-deps . && rm -rf build *.egg-info

bench:
	$(PYTHON) benchmarks/launcher_overhead.py

# The real Kestra engine (realservers/kestra/README.md): Kestra's published engine modules in one
# JVM behind our thin HTTP front. Builds with Maven when needed, prints "ready: URL", runs until
# stopped. KESTRA_MAJOR=1 (1.3.x) or 2 (2.0.x); basic auth from KESTRA_USER/KESTRA_PASSWORD.
KESTRA_MAJOR ?= 1
PORT ?= 8080
.PHONY: real-kestra
real-kestra:
	PORT=$(PORT) exec realservers/kestra/serve $(KESTRA_MAJOR)
