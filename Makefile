# The two commands a fresh machine needs: `make serve` and `make test`.
# Both create .venv and install the project into it on first use (and after pyproject.toml or
# constraints.txt changes), every dependency at the version constraints.txt locks.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000

# Every dependency's exact version, the dev tools', pip's and the build backend's included:
# what a fresh clone installs, whatever has been released since (pyproject.toml keeps the
# ranges). `make lock` moves it on purpose (README: Dependencies).
LOCK := constraints.txt
PIP_INSTALL = $(PY) -m pip install -q -c $(LOCK) --build-constraint $(LOCK)

.PHONY: serve demo try-webhooks test test-lowest lint bench clean replica lock

# What serving needs (no test or lint tools): `make serve` and `make demo`. A .venv that
# `make test` already filled up to date has it all.
$(VENV)/.serving: pyproject.toml $(LOCK)
	if [ -f $(VENV)/.installed ] && [ $(VENV)/.installed -nt pyproject.toml ] \
	    && [ $(VENV)/.installed -nt $(LOCK) ]; then touch $@; else \
	  $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q --upgrade -c $(LOCK) pip && \
	  $(PIP_INSTALL) -e . && touch $@; fi

# Everything, the dev tools too: `make test`, `make lint`.
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade -c $(LOCK) pip
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(VENV)/.serving

# openapi-python-client, which generates docs/client.md's typed client in the suite, in a venv
# of its own: it caps typer and httpx below the versions the service runs on, so it cannot
# share .venv. Its versions are locked in docs/client/constraints.txt (`make lock` too).
CLIENT_GENERATOR ?= .venv-client
CLIENT_LOCK := docs/client/constraints.txt
$(CLIENT_GENERATOR)/.installed: $(CLIENT_LOCK)
	$(PYTHON) -m venv $(CLIENT_GENERATOR)
	$(CLIENT_GENERATOR)/bin/python -m pip install -q --upgrade -c $(CLIENT_LOCK) pip
	$(CLIENT_GENERATOR)/bin/python -m pip install -q -c $(CLIENT_LOCK) openapi-python-client
	touch $@

## Re-resolve every dependency to the newest release within pyproject.toml's ranges (the dev and
## bench extras, pip and setuptools too) and write the versions to constraints.txt; then run
## `make test` and commit both if it passes. A new pyproject.toml dependency needs this too.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade pip setuptools
	.lock-venv/bin/python -m pip install -q --no-build-isolation -e '.[dev,bench]'
	{ echo "# Every dependency's version, resolved on $$(.lock-venv/bin/python -V) by make lock."; \
	  echo "# Installed with pip -c and --build-constraint (Makefile; README: Dependencies)."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable --exclude ceasefire-status; \
	} > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade pip
	.lock-venv/bin/python -m pip install -q openapi-python-client
	{ echo "# openapi-python-client's own venv (Makefile: .venv-client), resolved by make lock."; \
	  .lock-venv/bin/python -m pip freeze --all; } > $(CLIENT_LOCK)
	rm -rf .lock-venv

## Run the API on http://$(HOST):$(PORT), migrating the embedded SQLite database first.
serve: $(VENV)/.serving
	$(VENV)/bin/ceasefire serve --host $(HOST) --port $(PORT)

## The seed article's timeline as demo data, with the times it was reported (idempotent).
demo: $(VENV)/.serving
	$(VENV)/bin/ceasefire migrate
	$(VENV)/bin/ceasefire import tests/fixtures/armenia-azerbaijan-2022-09.recorded.ndjson

## Webhooks on one machine: a service on 8010 and the example receiver on 8011, end to end.
try-webhooks: $(VENV)/.installed
	docs/examples/try_webhooks.sh

## Lint, type-check, then the whole suite on SQLite and PostgreSQL.
test: $(VENV)/.installed $(CLIENT_GENERATOR)/.installed lint
	$(PY) -m pytest $(PYTEST_ARGS)

## The unit, contract and api tests again on the lowest versions pyproject.toml allows for our
## direct dependencies (uv's lowest-direct resolution), in a fresh venv of their own: the
## declared ranges are ones the suite has passed on.
LOWEST ?= .venv-lowest
test-lowest: $(VENV)/.installed
	$(PY) -m pip install -q uv
	rm -rf $(LOWEST)
	$(VENV)/bin/uv venv -q --python "$$(readlink -f $(PY))" $(LOWEST)
	$(VENV)/bin/uv pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[dev]'
	$(LOWEST)/bin/python -m pytest tests/unit tests/contract tests/api $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check app events projections migrations tests bench
	$(VENV)/bin/ruff format --check app events projections migrations tests bench
	$(VENV)/bin/mypy app events projections

bench: $(VENV)/.installed
	$(PIP_INSTALL) -e '.[bench]'
	$(PY) bench/append.py
	$(PY) bench/status.py
	$(PY) bench/replay.py
	$(PY) bench/polling.py
	$(PY) bench/webhooks.py
	$(PY) bench/webhook_libraries.py
	$(PY) bench/load.py
	$(PY) bench/wal.py
	$(PY) bench/scale.py

## A PostgreSQL hot standby of the local cluster on 127.0.0.1:5433 (streaming replication), for the
## read-replica tests and bench/scale.py; `.ci/replica.sh stop|status|destroy` for the rest.
replica:
	bash .ci/replica.sh start

clean:
	rm -rf $(VENV) $(LOWEST) $(CLIENT_GENERATOR) .lock-venv *.egg-info .mypy_cache .ruff_cache .pytest_cache
