# kpiplatform: `make run` serves it, `make test` checks it. Both install what they need.
# Only Python 3.11+ and make are required; uv is installed into .tools/ on first use.

PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install install-test run test lint format bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

install: $(UV)  ## create .venv from the lock file (platform, plugins and dev tools)
	$(UV) sync --frozen --all-packages --quiet

install-test: $(UV)  ## install, plus the plugins that exist only to test the plugin manager
	$(UV) sync --frozen --all-packages --group test-plugins --quiet

run: install  ## migrate, then serve web + worker + scheduler (Ctrl-C stops all); see README
	$(PY) manage.py run

lint: install-test  ## ruff and the import-linter architecture contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# pytest exits 5 when it collected no tests: make reports that as a failure, on purpose.
test: lint  ## the whole suite, in parallel, against real PostgreSQL and a real Celery worker
	$(VENV)/bin/pytest -n 2 --dist loadgroup

bench: install  ## benchmarks: each prints a table of ratios against a baseline measured alongside
	$(PY) -m bench.signup
	$(PY) -m bench.writer
	$(PY) -m bench.kpis

clean:
	rm -rf $(VENV) .tools var
