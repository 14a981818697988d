# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
PYTEST_WORKERS ?= 2

.PHONY: install reinstall demo test test-fast test-real bench

install:
	$(PYTHON) -m pip install -q '.[test]'

demo:
	$(PYTHON) examples/demo.py

# Tests run against the INSTALLED package (what Metaflow's extension loader and every flow
# subprocess see), so `make test` reinstalls the checkout first; -P keeps the checkout
# itself off sys.path (two copies of one extension make Metaflow refuse to import).
PYTEST = $(PYTHON) -P -m pytest -p no:cacheprovider -q -rs

test: reinstall
	$(PYTEST) -n $(PYTEST_WORKERS) --dist loadgroup

test-fast: reinstall
	$(PYTEST) -m "not e2e"

# The Kestra end-to-end suite against a real server (docker-compose.yml): set KESTRA_HOST,
# KESTRA_USER, KESTRA_PASSWORD and a METAFLOW_DATASTORE_SYSROOT_LOCAL the server's worker shares.
test-real: reinstall
	$(PYTEST) -m real_kestra tests/kestra

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
