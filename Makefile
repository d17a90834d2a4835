# Each target creates its own virtual environment, so a fresh machine needs only
# Python 3.10-3.12 with venv. CONSTRAINTS pins the tested TensorFlow line.
PYTHON ?= python3
VENV ?= .venv
CONSTRAINTS ?= constraints/tf2.20-py311.txt
BIN := $(VENV)/bin

.PHONY: install demo test clean

$(BIN)/maskrcnn: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	touch $@

install: $(BIN)/maskrcnn

demo: install
	$(BIN)/maskrcnn validate --gin_file=maskrcnn_shapes_r18_cpu

test: install
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
