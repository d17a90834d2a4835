# Each target creates its own virtual environment, so a fresh machine needs only
# Python 3.10-3.12 with venv. CONSTRAINTS pins the tested TensorFlow line: the
# primary line (TF 2.20) by default; test-tf2.14 tests the CUDA 11.x line (TF 2.14).
PYTHON ?= python3
VENV ?= .venv
CONSTRAINTS ?= constraints/tf2.20-py311.txt
BIN := $(VENV)/bin

.PHONY: install demo test test-tf2.14 clean

$(BIN)/maskrcnn: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	touch $@

install: $(BIN)/maskrcnn

# The shapes demo: generate the synthetic dataset, train the small CPU model,
# evaluate it and print box and mask AP and where the run's files are. A
# second `make demo` resumes (or only re-evaluates) the run in DEMO_DIR.
DEMO_DIR ?= runs/shapes_r18_cpu

demo: install
	$(BIN)/maskrcnn data make-shapes --output data/shapes
	$(BIN)/maskrcnn train --gin_file=maskrcnn_shapes_r18_cpu --model_dir=$(DEMO_DIR)

# The suite runs on PYTEST_WORKERS processes (pytest-xdist), the tests of one
# file in the same process so that its shared models are built once. Most of a
# test's time is single-threaded graph tracing: two workers use both cores of
# a 2-core machine. PYTEST_WORKERS=0 runs everything in this process.
PYTEST_WORKERS ?= 2

test: install
	$(BIN)/python -m pytest tests -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The smoke tests (pytest -m smoke) in their own environment on the TF 2.14 line.
test-tf2.14:
	$(MAKE) test VENV=.venv-tf2.14 CONSTRAINTS=constraints/tf2.14-py311.txt \
		PYTEST_ARGS="-m smoke $(PYTEST_ARGS)"

clean:
	rm -rf $(VENV) .venv-tf2.14 build *.egg-info
