# The kit's two commands: `make test` and `make reproduce`; both set up the
# virtual environment first (pip, Python 3.10+, package registries only).
PYTHON ?= python3
VENV ?= .venv
PRESET ?= smoke
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test reproduce bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/pinned.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/pinned.txt -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

reproduce: $(STAMP)
	$(BIN)/python -m milenas_lib.reproduce --preset $(PRESET)

clean:
	rm -rf $(VENV) runs .pytest_cache
