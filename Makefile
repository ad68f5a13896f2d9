# The kit's two commands: `make test` and `make reproduce`; both set up the
# virtual environment first (pip, Python 3.10+, package registries only).
PYTHON ?= python3
VENV ?= .venv
PRESET ?= smoke
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast test-browser reproduce bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/pinned.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/pinned.txt -e '.[test]'
	touch $(STAMP)

# Test files spread over TEST_WORKERS processes (pytest-xdist; default: one per core, at most 4;
# TEST_WORKERS=0: one process); a file's tests stay in one process, its fixtures made once.
TEST_WORKERS ?= auto
PARALLEL := -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PARALLEL)

# The edit loop: everything but the notebook executions and the browser tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(PARALLEL) -m "not slow and not browser"

# JupyterLab in headless Chromium (system package `chromium`): notebooks 01, 02, 09
# and their explorers. SCREENSHOTS=docs also refreshes the explorer pictures in docs/;
# EVIDENCE=results/runs draws them from the committed long records (EVIDENCE_PRESET=medium: those).
test-browser: $(STAMP)
	MILENAS_SCREENSHOTS=$(SCREENSHOTS) MILENAS_SCREENSHOT_RUNS=$(EVIDENCE) MILENAS_SCREENSHOT_PRESET=$(EVIDENCE_PRESET) $(BIN)/python -m pytest -q -m browser tests/test_browser.py

# First every notebook's missing runs at once (WORKERS=N at a time, default all
# cores; WORKERS=1 one after another), then the notebooks (docs/SCALING.md).
# DOWNLOAD=1 first fetches the official CIFAR-10 (README.md, "Data").
reproduce: $(STAMP)
	$(BIN)/python -m milenas_lib reproduce --preset $(PRESET) $(if $(WORKERS),--workers $(WORKERS)) $(if $(filter 1 yes true,$(DOWNLOAD)),--download)

clean:
	rm -rf $(VENV) runs .pytest_cache
