# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
PYTEST_WORKERS ?= 2

.PHONY: install demo test test-fast bench

install:
	$(PYTHON) -m pip install -q '.[test]'

demo:
	$(PYTHON) examples/demo.py

test:
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider -q -rs

test-fast:
	$(PYTHON) -m pytest -m "not e2e" -p no:cacheprovider -q

bench:
	$(PYTHON) benchmarks/launcher_overhead.py
