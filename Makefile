# bertlab — two commands:  `make lab` (set up + open JupyterLab)   `make test` (set up + every test)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Set-up is keyed on the content of the requirements: a second `make` skips it unless they changed.
SETUP_KEY := $(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.setup-$(SETUP_KEY)
PYTEST := $(BIN)/python -m pytest
# JupyterLab refuses to run as root (Docker, cloud notebook machines) unless told it may.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# The interpreter is checked before anything installs: Python 3.11–3.13 (numpy 2.4.6 needs ≥ 3.11; torch
# 2.13.0 has wheels up to 3.13). One line says what to install or which PYTHON= to pass.
define PYTHON_PROBLEM
pyver() { "$$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }; \
supported() { case "$$1" in 3.11|3.12|3.13) return 0;; *) return 1;; esac; }; \
goal="make $(or $(MAKECMDGOALS),lab)"; \
if [ -x $(BIN)/python ]; then \
  v=$$(pyver $(BIN)/python) || true; \
  supported "$$v" || echo "bertlab: $(VENV) was made with Python $${v:-?} (supported: 3.11–3.13); run: make clean-venv && $$goal PYTHON=python3.11"; \
else \
  v=$$(pyver "$(PYTHON)") || true; \
  if ! supported "$$v"; then \
    alt=; for p in python3.13 python3.12 python3.11; do \
      if command -v $$p >/dev/null 2>&1 && supported "$$(pyver $$p)"; then alt=$$p; break; fi; done; \
    if [ -n "$$alt" ]; then hint="run: $$goal PYTHON=$$alt"; \
    else hint="install Python 3.11, 3.12 or 3.13 (python.org, apt, brew or pyenv), then run: $$goal PYTHON=python3.11"; fi; \
    echo "bertlab needs Python 3.11–3.13, but '$(PYTHON)' is $${v:-not found}: $$hint"; \
  elif ! "$(PYTHON)" -c "import ensurepip, venv; ensurepip.version()" >/dev/null 2>&1; then \
    echo "bertlab: '$(PYTHON)' ($$v) cannot make a virtual environment: install python$$v-venv (Debian/Ubuntu: sudo apt install python$$v-venv), then run: $$goal"; \
  fi; \
fi
endef
ifneq ($(filter lab test test-fast setup lint notebooks site,$(or $(MAKECMDGOALS),help)),)
ifneq ($(wildcard $(STAMP)),$(STAMP))
PROBLEM := $(shell $(PYTHON_PROBLEM))
$(if $(PROBLEM),$(error $(PROBLEM)))
endif
endif

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

# Quiet start-up: the last line printed is the URL to open (JupyterLab also opens it when it can).
lab: setup
	@$(BIN)/python -m bertlab.workspace
	@echo "== starting JupyterLab on workspace/ (Ctrl+C stops it): open the URL printed last =="
	@$(BIN)/jupyter lab --notebook-dir=workspace $(LAB_ROOT) --ServerApp.log_level=WARN --LabApp.log_level=WARN $(LAB_ARGS)

lint: setup
	$(BIN)/ruff check bertlab tests tools solutions benchmarks

test-fast: setup lint
	$(PYTEST) -q -m "not notebook and not browser" --durations=5

# Each property is proven once (README, "What `make test` runs"). Every stage runs even when an earlier one
# failed; each stage's time is printed, then one closing line: total: N passed, N failed, N skipped.
test: setup
	@t0=$$(date +%s); rm -rf build/junit-*.xml; mkdir -p build; failed=; times=; \
	  stage() { local n="$$1" name="$$1/4 $$2"; shift 2; local s=$$(date +%s); echo "== $$name =="; \
	    "$$@" || failed="$$failed --failed-stage $$n"; \
	    times="$$times$$(printf '%5d s  %s' $$(( $$(date +%s) - s )) "$$name")\n"; }; \
	  lint() { $(BIN)/ruff check bertlab tests tools solutions benchmarks; local rc=$$?; \
	    $(BIN)/ruff check -q --output-format junit bertlab tests tools solutions benchmarks > build/junit-1-lint.xml || true; \
	    return $$rc; }; \
	  browser() { $(PYTEST) -q -rs -m browser tests --durations=5 --junitxml=build/junit-4-browser.xml || [ $$? -eq 5 ]; }; \
	  stage 1 "lint (ruff)" lint; \
	  stage 2 "unit, check and kernel tests" \
	    $(PYTEST) -q -m "not browser" --durations=5 --junitxml=build/junit-2-unit.xml; \
	  stage 3 "every chapter once: nbval (as committed) + solved replay (strict checks) + 120 s budget" \
	    $(PYTEST) -q --nbval chapters --nbval-cell-timeout=300 -p tests.nbval_course --junitxml=build/junit-3-chapters.xml; \
	  stage 4 "JupyterLab in headless Chromium" browser; \
	  echo "== stage times =="; printf "$$times"; \
	  printf '%5d s  make test\n' $$(( $$(date +%s) - t0 )); \
	  $(BIN)/python tools/test_summary.py build $$failed

notebooks: setup
	$(BIN)/python tools/nbtools.py build --all

# the offline book: committed chapters (no execution) → site/index.html
site: setup
	$(BIN)/python tools/build_site.py

clean-venv:
	rm -rf $(VENV)
