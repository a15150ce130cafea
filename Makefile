# Two commands for a newcomer: `make run` and `make test`. Both set up what is missing.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := $(wildcard supervisor api tests bench examples)
TORCH := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: setup run demo test lint typecheck pytest bench clean browser

# torch is pinned and installed first: it is the CPU build on disk here, and anything
# that pulls torch unpinned would otherwise fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/pip install --disable-pip-version-check -q $(TORCH)
	$(BIN)/pip install --disable-pip-version-check -q $(TORCH) -e '.[dev]'
	@$(MAKE) --no-print-directory browser
	touch $(STAMP)

# Debian's Chromium and its driver for the console's browser tests (Playwright drives
# /usr/bin/chromium through executable_path; no browser download).
browser:
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	     chromium chromium-driver >/dev/null) \
	  || echo "warning: could not install Debian's chromium; browser tests will fail"; }

setup: $(STAMP)

# the main job: the HTTP service on the embedded defaults (prints URL, keys, SDK examples)
run: setup
	$(BIN)/supervisor serve

demo: setup
	$(BIN)/supervisor demo

lint: setup
	$(BIN)/ruff check $(CODE)

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q

test: setup
	$(BIN)/ruff check $(CODE)
	$(BIN)/mypy
	$(BIN)/supervisor constitution test base
	$(BIN)/supervisor constitution test healthcare
	$(BIN)/supervisor constitution test finance
	$(BIN)/pytest -q

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
