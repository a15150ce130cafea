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

.PHONY: setup run demo test lint typecheck pytest bench clean browser llama-wheel

# llama-cpp-python is compiled from source. A native build (-march=native) on a CPU with
# AMX segfaults at the first prompt longer than one token (0.3.36, seen on these
# machines), so it is built portable (GGML_NATIVE=OFF: AVX2 and FMA, no AMX) once per
# machine into a wheel folder of its own: pip's own cache would hand back a native build.
LLAMA := llama-cpp-python==0.3.36
# the project with the extras tests need; a variable, since a comma in a $(call)
# argument would split it
PROJECT := '.[dev,eval]'
LLAMA_WHEELS := $(HOME)/.cache/constitutional-supervisor/llama-cpp-python-0.3.36-portable

# Setup says what each step installs and shows pip's own lines (what it downloads, builds
# and installs, every warning and error), less "Requirement already satisfied" and the
# progress bars; a step that runs quietly for a while (a compile, torch's unpack) gets a
# "still ..." line every 20 s. pip's full output goes to $(SETUP_LOG), and a failed step
# prints the log's last lines. Expected time on 2 cores: 10 to 15 minutes on a new
# machine (the llama-cpp-python compile is about half), about 6 with the wheel built.
SETUP_LOG := $(VENV)/setup.log
PIP := $(BIN)/pip
PIP_OPTS := --disable-pip-version-check --progress-bar off
# (pip's "Location ... is ignored" warnings are about a machine's pip.conf naming index
# folders it lacks, once per package: they stay in the log)
SHOW := awk '!/^(Requirement already satisfied|Looking in (indexes|links)|  Using cached)/ \
  && !/^WARNING: Location .* is ignored: it is neither a file nor a directory/ \
  { print "  " $$0; fflush() }'
# the compile's own lines: scikit-build-core's steps and any error, not each compiler call
SHOW_BUILD := awk '/^\*\*\* |(^|[^-A-Za-z_])[Ee]rror[: ]|FAILED/ && !/^\[[0-9]+\/[0-9]+\]/ \
  { print "  " $$0; fflush() }'

# $(call step,WHAT,COMMAND[,FILTER]): run COMMAND as described above (no commas in WHAT).
# With a FILTER (a compile), the "still" line names the latest [done/total] step.
define step
@echo "setup: $(1)"
@set -o pipefail; start=$$SECONDS; \
  ( trap 'kill $$nap 2>/dev/null; exit 0' TERM; while :; do sleep 20 & nap=$$!; wait $$nap; \
      $(if $(3),at=$$(grep -o '^\[[0-9]*/[0-9]*\]' $(SETUP_LOG) | tail -n 1);) \
      echo "setup:   still $(1) ($$((SECONDS - start)) s$${at:+; compiled $$at})"; done ) & \
  beat=$$!; { $(2); } 2>&1 | tee -a $(SETUP_LOG) | $(or $(3),$(SHOW)); status=$$?; \
  kill $$beat; wait $$beat; [ $$status = 0 ] || { \
    echo "setup: FAILED ($(1)); the last lines of $(SETUP_LOG):"; \
    tail -n 40 $(SETUP_LOG); exit $$status; }
endef

# torch is pinned and installed first: it is the CPU build on disk here, and anything
# that pulls torch unpinned would otherwise fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@: > $(SETUP_LOG)
	$(call step,upgrading pip,$(PIP) install $(PIP_OPTS) --upgrade pip)
	$(call step,installing torch (CPU build; a large unpack),$(PIP) install $(PIP_OPTS) $(TORCH))
	@if ls $(LLAMA_WHEELS)/*.whl >/dev/null 2>&1; then \
	  echo "setup: $(LLAMA) already built in $(LLAMA_WHEELS)"; else \
	  echo "setup: compiling $(LLAMA) once per machine: this takes minutes (4 to 7 on 2 cores)"; \
	  $(MAKE) --no-print-directory llama-wheel; fi
	$(call step,installing $(LLAMA) from its built wheel,$(PIP) install $(PIP_OPTS) --no-deps $(LLAMA_WHEELS)/*.whl)
	$(call step,installing the project and its dependencies,$(PIP) install $(PIP_OPTS) $(TORCH) $(LLAMA) -e $(PROJECT))
	@$(MAKE) --no-print-directory browser
	touch $(STAMP)
	@echo "setup: done (pip's full output: $(SETUP_LOG))"

llama-wheel:
	$(call step,compiling $(LLAMA),CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) wheel $(PIP_OPTS) -v --no-deps \
	  --no-cache-dir -w $(LLAMA_WHEELS) $(LLAMA),$(SHOW_BUILD))

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
