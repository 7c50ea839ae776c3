# One target per habit. `make setup` is install.sh; everything else uses .venv.
PY := .venv/bin/python

.PHONY: setup test test-fast lint format bench clean

setup:
	bash install.sh

test:
	$(PY) -m pytest -q

test-fast:
	$(PY) -m pytest -q -m "not slow"

lint:
	.venv/bin/ruff check .

format:
	.venv/bin/ruff format .

bench:
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf .venv build dist *.egg-info .pytest_cache .ruff_cache
