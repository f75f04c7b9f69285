# make release: set up (.venv, packages, data), run the instructor notebooks, generate release/
# make test:    the whole test suite (set-up included)
# make test-fast: the fast tests (tests/unit: one file per module, no network trained), in seconds
# make publish DEST=folder: the students' repository (release/ and their helpers, no solutions)
# make docs:    the documentation site into site/ (strict: a broken link or page fails it)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ASSIGNMENTS := $(notdir $(wildcard source/*))

# CPU-only TensorFlow where there is no NVIDIA GPU (a much smaller download).
TF_PACKAGE ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo tensorflow || echo tensorflow-cpu)
TF_RANGE := >=2.16,<2.22

# Tests train for LAB_EPOCHS epochs to stay short; students and `make release` train for the
# lab's 10. `make test LAB_EPOCHS=10` runs the tests on the full lab.
LAB_EPOCHS ?= 1

# nbgrader runs helper programs (alembic, jupyter) from PATH.
export PATH := $(abspath $(BIN)):$(PATH)
PYTEST_ARGS ?=
# Two pytest workers (one per core on the CI machine); each test file runs whole on one of them,
# so a file's module fixtures (a graded class) are made once. `make test XDIST=0` runs serially.
XDIST ?= 2

# make grade: autograde every submission of ASSIGNMENT in parallel (course_utils.grading).
ASSIGNMENT ?= lab3_part2
GRADE_ARGS ?=

.PHONY: setup data sandbox browser release test test-fast grade publish bench docs clean

setup: $(BIN)/.installed data sandbox

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TF_PACKAGE)$(TF_RANGE)" -e ".[course]"
	touch $@

# Debian's package where we may install it; otherwise Keras downloads the data on first use.
data: $(BIN)/.installed
	@if [ ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] \
	    && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist; }; \
	fi
	$(BIN)/python -m course_utils.data

# Debian's bubblewrap: the grader runs every student kernel in its sandbox (namespaces).
sandbox:
	@if ! command -v bwrap >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends bubblewrap \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends bubblewrap; }; \
	fi
	@command -v bwrap >/dev/null || echo "bubblewrap is missing: install it (apt-get install bubblewrap) to grade"

# Debian's Chromium for the browser test (Playwright drives it; it downloads no browser).
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }; \
	fi

release: setup
	$(BIN)/python tools/release.py $(ASSIGNMENTS)

# The notebooks the tests run themselves (nbval, nbgrader validate) without NumPy's huge pages,
# as the kit's grader runs every kernel (course_utils/grading/worker.py, HUGE_PAGES).
test: setup browser
	LAB_EPOCHS=$(LAB_EPOCHS) NUMPY_MADVISE_HUGEPAGE=0 $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
	  -n $(XDIST) --dist loadfile --durations=15 tests source $(PYTEST_ARGS)

# The fast tests alone: each module's own tests, the import graph, the settings and the docs.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -q -n $(XDIST) tests/unit $(PYTEST_ARGS)

grade: setup
	$(BIN)/python -m course_utils.grade $(ASSIGNMENT) $(GRADE_ARGS)

# make publish DEST=../lab-students [ASSIGNMENTS="lab3_part2"] [CLOSED="lab3_part2"]: write the
# students' repository into DEST: ASSIGNMENTS, or every assignment that can be published now;
# CLOSED assignments' answers may appear (after their due date).
DEST ?=
CLOSED ?=
publish: $(BIN)/.installed
	@test -n "$(DEST)" || { echo "usage: make publish DEST=folder [ASSIGNMENTS=...] [CLOSED=...]"; exit 2; }
	$(BIN)/python -m course_utils.publishing "$(DEST)" \
	  $(if $(filter command line,$(origin ASSIGNMENTS)),$(foreach a,$(ASSIGNMENTS),--assignment $(a))) \
	  $(foreach a,$(CLOSED),--closed $(a))

# The benchmark (not a test): the kit against plain nbgrader and the original lab's code.
bench: setup
	$(BIN)/python bench/benchmark.py $(BENCH_ARGS)

# The documentation (mkdocs.yml, docs/): `.venv/bin/mkdocs serve` shows it while editing.
docs: $(BIN)/.installed
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) gradebook.db submitted autograded feedback grades .course-kit .pytest_cache .mypy_cache site
