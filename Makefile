# The two commands (see README): `make demo` runs the main job, `make test`
# the test suite. Both bootstrap .venv idempotently first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: bootstrap demo test

bootstrap:
	bash tools/bootstrap.sh

demo: bootstrap
	$(PY) tools/shapes_demo.py

test: bootstrap
	$(PY) -m pytest tests $(PYTEST_ARGS)
