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

# llama-cpp-python is compiled from source. A native build (-march=native) on a CPU with
# AMX segfaults at the first prompt longer than one token (0.3.36, seen on these
# machines), so it is built portable (GGML_NATIVE=OFF: AVX2 and FMA, no AMX) once per
# machine into a wheel folder of its own: pip's own cache would hand back a native build.
LLAMA := llama-cpp-python==0.3.36
LLAMA_WHEELS := $(HOME)/.cache/constitutional-supervisor/llama-cpp-python-0.3.36-portable

# torch is pinned and installed first: it is the CPU build on disk here, and anything
# that pulls torch unpinned would otherwise fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip
	@echo "setup: torch (CPU build)"
	$(BIN)/pip install --disable-pip-version-check -q $(TORCH)
	@ls $(LLAMA_WHEELS)/*.whl >/dev/null 2>&1 || { \
	  echo "setup: compiling $(LLAMA) (about 4 minutes on 2 cores, once per machine)"; \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip wheel --disable-pip-version-check -q \
	    --no-deps --no-cache-dir -w $(LLAMA_WHEELS) $(LLAMA); }
	$(BIN)/pip install --disable-pip-version-check -q --no-deps $(LLAMA_WHEELS)/*.whl
	@echo "setup: the project and its dependencies"
	$(BIN)/pip install --disable-pip-version-check -q $(TORCH) $(LLAMA) -e '.[dev]'
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
