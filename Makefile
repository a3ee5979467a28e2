# The commands (see README): `make demo` runs the main job, `make test` the
# test suite, `make lint` the linters (flake8, isort, yapf; settings in
# setup.cfg). Each bootstraps .venv idempotently first. `.ci/run` runs
# `make lint` and then `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# e.g. DEMO_ARGS="--jobs 1" (tools/shapes_demo.py --help)
DEMO_ARGS ?=
TEST_WORKERS ?= 2

.PHONY: bootstrap demo demo-he-long test lint format

bootstrap:
	bash tools/bootstrap.sh

# The main job: the mini-replication study of both papers on the built-in
# data (configs/studies/shapes_mini_replication.py), its tables and plots.
demo: bootstrap
	$(PY) tools/shapes_demo.py $(DEMO_ARGS)

# He et al.'s comparison at longer schedules (1x = 1000 iterations instead
# of 150: scratch 4x / 6x, pre-trained 6x), the part of the same study that
# shows how far the scratch arm is from converging (docs/main_job.md).
# One seed, 19 min on 2 cores; HE_LONG_SEEDS=0,1,2 for a verdict (~50 min),
# HE_LONG_X=2000 for a longer 1x (about twice as long).
HE_LONG_SEEDS ?= 0
HE_LONG_X ?= 1000
demo-he-long: bootstrap
	MINI_ITERS_PER_X=$(HE_LONG_X) MINI_SEEDS=$(HE_LONG_SEEDS) \
	    MINI_ARMS=scratch-4x,scratch-6x,pretrained-6x \
	    $(PY) tools/shapes_demo.py --work-dir work_dirs/shapes_he_long_$(HE_LONG_X) \
	    $(DEMO_ARGS)

# The suite runs on TEST_WORKERS pytest-xdist processes of one thread each,
# a test module per worker at a time (module fixtures are built once);
# TEST_WORKERS=0 runs it in this process.
test: bootstrap
	OMP_NUM_THREADS=1 $(PY) -m pytest tests -n $(TEST_WORKERS) \
	    --dist loadfile --durations=30 $(PYTEST_ARGS)

lint: bootstrap
	bash tools/lint.sh

# Rewrite FILES with isort + yapf, e.g. `make format FILES=tools/train.py`.
format: bootstrap
	bash tools/lint.sh --fix $(FILES)
