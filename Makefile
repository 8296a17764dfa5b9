# bertlab — two commands:  `make lab` (set up + open JupyterLab)   `make test` (set up + every test)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Set-up is keyed on the content of the requirements: a second `make` skips it unless they changed.
SETUP_KEY := $(shell cat requirements.txt pyproject.toml | $(PYTHON) -c "import hashlib,sys;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])")
STAMP := $(VENV)/.setup-$(SETUP_KEY)
PYTEST := $(BIN)/python -m pytest
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: lab test test-fast lint setup notebooks site clean-venv help

help:
	@echo "make lab        set up .venv (first time) and open the course in JupyterLab"
	@echo "make test       set up .venv (first time) and run every test"
	@echo "make test-fast  unit and check tests only (the development loop)"
	@echo "make notebooks  rebuild and execute chapters/*.ipynb from tools/notebooks/*.py"
	@echo "make site       the course as an offline HTML book in site/ (open site/index.html; nothing runs)"

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@echo "== setting up $(VENV) (first run, or requirements changed) =="
	@t0=$$(date +%s); \
	  if [ ! -x $(BIN)/python ]; then $(PYTHON) -m venv $(VENV); fi; \
	  $(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }; \
	  $(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | { grep -v "is ignored: it is neither" || true; }; \
	  $(BIN)/python -c "import bertlab, torch, transformers, bertviz" ; \
	  mkdir -p $(VENV)/share/jupyter/lab/settings && cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json; \
	  rm -f $(VENV)/.setup-*; touch $@; \
	  echo "== set-up done in $$(( $$(date +%s) - t0 )) s =="

lab: setup
	$(BIN)/python -m bertlab.workspace
	$(BIN)/jupyter lab --notebook-dir=workspace $(LAB_ARGS)

lint: setup
	$(BIN)/ruff check bertlab tests tools solutions benchmarks

test-fast: setup lint
	$(PYTEST) -q -m "not notebook and not browser" --durations=5

test: setup
	@t0=$$(date +%s); rm -rf build/junit-*.xml; \
	  echo "== 1/5 lint (ruff) =="; $(BIN)/ruff check bertlab tests tools solutions benchmarks; \
	  echo "== 2/5 unit and check tests =="; \
	  $(PYTEST) -q -m "not notebook and not browser" --durations=5 --junitxml=build/junit-2-unit.xml; \
	  echo "== 3/5 every chapter as committed, under nbval =="; \
	  $(PYTEST) -q --nbval chapters --nbval-cell-timeout=300 -p tests.nbtiming --junitxml=build/junit-3-nbval.xml; \
	  echo "== 4/5 the solved course: solutions injected, strict checks =="; \
	  $(PYTEST) -q -m notebook tests --durations=0 --junitxml=build/junit-4-solved.xml; \
	  echo "== 5/5 JupyterLab in a real browser =="; \
	  $(PYTEST) -q -rs -m browser tests --junitxml=build/junit-5-browser.xml || [ $$? -eq 5 ]; \
	  echo "== make test: all stages passed in $$(( $$(date +%s) - t0 )) s =="; \
	  $(BIN)/python tools/test_summary.py build

notebooks: setup
	$(BIN)/python tools/nbtools.py build --all

# the offline book: committed chapters (no execution) → site/index.html
site: setup
	$(BIN)/python tools/build_site.py

clean-venv:
	rm -rf $(VENV)
