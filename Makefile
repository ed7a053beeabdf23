# tierdesk developer entry points.
#   make run    install into .venv and start the daemon on its embedded default
#   make test   install everything (Dovecot included) and run the whole test suite
#   make lint   ruff check + ruff format --check
#   make bench  the ingestion benchmark (bench/ingest.py)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the folders install as tierdesk.* (setup.cfg), which ruff cannot see from the tree
RUFF_CHECK := check --extend-select I,UP,B,SIM --config "lint.isort.known-first-party = ['tierdesk']"

.PHONY: run test lint format bench install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tierdesk run $(ARGS)

test: $(STAMP)
	bash tests/support/install_dovecot.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff $(RUFF_CHECK) .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff $(RUFF_CHECK) --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/ingest.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
