# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
PYTEST_WORKERS ?= 2

.PHONY: install reinstall demo test test-fast bench

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

reinstall:
	$(PYTHON) -m pip install -q --no-deps . && rm -rf build *.egg-info

bench:
	$(PYTHON) benchmarks/launcher_overhead.py
