# tierdesk developer entry points.
#   make run    install into .venv and start the daemon on its embedded default
#   make test   install everything (Dovecot included) and run the whole test suite
#   make lint   ruff check + ruff format --check
#   make bench  the ingestion benchmark (bench/ingest.py)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# most tests wait on daemons, sockets and databases: one worker per core, a
# test file's tests together (its module fixtures are built once)
PYTEST_PARALLEL ?= -n auto --dist loadfile
# bytecode for our own modules: where PYTHONDONTWRITEBYTECODE is set, every
# process (each parse worker too) would compile them again (0.3 s a start)
COMPILE := $(BIN)/python -m compileall -q daemon parsers rules storage > /dev/null
# the folders install as tierdesk.* (setup.cfg), which ruff cannot see from the
# tree: it sorts `tierdesk` with the third-party packages, here as in a plain
# `ruff check`, so both agree
RUFF_CHECK := check --extend-select I,UP,B,SIM

.PHONY: run test lint format bench install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(COMPILE)
	$(BIN)/tierdesk run $(ARGS)

test: $(STAMP)
	bash tests/support/install_dovecot.sh
	$(COMPILE)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff $(RUFF_CHECK) .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff $(RUFF_CHECK) --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(COMPILE)
	$(BIN)/python bench/ingest.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
