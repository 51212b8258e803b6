# Two commands for a newcomer:  `make demo` (set up, build the library, answer a question)
# and `make test` (set up, run the whole test suite). Everything else is optional.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Local copies of the public sources when ../shared is beside the checkout; otherwise download.
SHARED_SOURCES := $(wildcard ../shared/data/sources)
export MEDORA_SOURCES_DIR ?= $(if $(SHARED_SOURCES),$(abspath $(SHARED_SOURCES)),)
QUESTION ?= What are the symptoms of Graves disease?

.PHONY: demo test bench setup clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Medora needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/medora library add --all
	$(BIN)/medora library stats
	$(BIN)/medora ask "$(QUESTION)"

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ask_latency.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
