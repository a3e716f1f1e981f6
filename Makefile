# CellBatch: `make run` starts the demo, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where `make run` serves the app: make run HOST=0.0.0.0 PORT=8080
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck check stop-db bench clean lock messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Only from the locks: every package pinned and its hash checked (pip itself is in the lock too).
# pip installs the installer, uv, from its own lock; uv installs the rest, several times faster than pip
# (docs/performance.md). Neither byte-compiles the packages: Python compiles the modules a process
# imports, once, into __pycache__ (see the test target).
UV_STAMP := $(VENV)/.uv-installed
$(UV_STAMP): requirements-bootstrap.txt | $(BIN)/python
	$(BIN)/pip install --quiet --no-compile --require-hashes -r requirements-bootstrap.txt
	touch $(UV_STAMP)

$(STAMP): requirements.txt requirements-dev.txt $(UV_STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements-dev.txt
	touch $(STAMP)

# Regenerate the locks from their .in files (docs/operations.md, supply chain).
LOCK_FLAGS := --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --quiet
lock: $(STAMP)
	$(BIN)/pip-compile $(LOCK_FLAGS) --output-file=requirements-bootstrap.txt requirements-bootstrap.in
	$(BIN)/pip-compile $(LOCK_FLAGS) --output-file=requirements.txt requirements.in
	$(BIN)/pip-compile $(LOCK_FLAGS) --output-file=requirements-dev.txt requirements-dev.in

# The translation catalogues: .po committed, .mo compiled here with polib (no GNU gettext needed).
messages: $(STAMP)
	$(BIN)/python scripts/messages.py compile

run: $(STAMP) messages
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python scripts/run_demo.py --check-port
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python scripts/run_demo.py

# The whole suite runs in two processes (pytest-xdist; what runs together: tests/parallel.py);
# with PYTEST_ARGS (`make test PYTEST_ARGS=tests/test_x.py`) in one process, unless PYTEST_WORKERS says.
PYTEST_WORKERS ?= $(if $(PYTEST_ARGS),0,2)
# Bytecode kept between runs (__pycache__, ignored by git), even where the shell asks Python not to
# write it: otherwise every worker, server and Celery process the suite starts compiles the project and
# the packages it imports again, and pytest rewrites every test module again in each of its processes.
run test: export PYTHONDONTWRITEBYTECODE =
test: $(STAMP) messages
	$(BIN)/python scripts/test_prereqs.py
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy .

check: lint typecheck messages
	$(BIN)/python scripts/messages.py check
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

stop-db: $(STAMP)
	$(BIN)/python scripts/stop_embedded_postgres.py

bench: $(STAMP)
	$(BIN)/python bench/batch_record.py
	$(BIN)/python bench/audit_verify.py

clean:
	rm -rf $(VENV)
