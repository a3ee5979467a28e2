# The commands (see README): `make demo` runs the main job, `make test` the
# test suite, `make lint` the linters (flake8, isort, yapf; settings in
# setup.cfg). Each bootstraps .venv idempotently first. `.ci/run` runs
# `make lint` and then `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: bootstrap demo test lint format

bootstrap:
	bash tools/bootstrap.sh

demo: bootstrap
	$(PY) tools/shapes_demo.py

test: bootstrap
	$(PY) -m pytest tests $(PYTEST_ARGS)

lint: bootstrap
	bash tools/lint.sh

# Rewrite FILES with isort + yapf, e.g. `make format FILES=tools/train.py`.
format: bootstrap
	bash tools/lint.sh --fix $(FILES)
