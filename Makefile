# fmnist-report: `make report` regenerates the series, `make test` runs every test.
# Each target does its own set-up (system packages, .venv, data).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BOOK_INSTALLED := $(VENV)/.installed-book
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]*_*.ipynb))
NB ?=

.PHONY: report test replay test-other-blas retrain lint unit nbval bench bench-threads bench-cnn bench-cnn-settings book test-book setup system-deps clean-venv

setup: system-deps $(VENV)/.installed

system-deps:
	@bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

## Execute every notebook in place (replaying runs stored in results/) and export figures and tables.
report: setup
	$(BIN)/python scripts/run_notebooks.py $(if $(NB),notebooks/$(NB).ipynb,$(NOTEBOOKS))

## Recompute every stored run (hours on a 2-core CPU); NB=02_mlp_from_scratch for one notebook.
retrain: setup
	FMNIST_RETRAIN=1 $(BIN)/python scripts/run_notebooks.py $(if $(NB),notebooks/$(NB).ipynb,$(NOTEBOOKS))

lint: setup
	$(BIN)/ruff check fmnist_utils tests notebooks benchmarks scripts docs

unit: setup
	$(BIN)/python -m pytest tests

nbval: replay

## Lint, unit tests, then the replay: strict nbval on every notebook; never trains (FMNIST_CACHE_ONLY=1) and never
## writes into the committed tree (exports go to $(EXPORTS)); then fails on exports that differ from figures/ and on
## stored runs that no notebook asked for.
RUN_LOG := $(VENV)/used_runs.txt
EXPORTS := $(VENV)/exports
# The second BLAS set-up CI replays under: another OpenBLAS kernel, one thread, no oneDNN.
OTHER_BLAS := OPENBLAS_CORETYPE=Sandybridge OPENBLAS_NUM_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0
test: setup $(BOOK_INSTALLED)
	$(BIN)/ruff check fmnist_utils tests notebooks benchmarks scripts docs
	FMNIST_CACHE_ONLY=1 $(BIN)/python -m pytest tests
	@$(MAKE) --no-print-directory replay

replay: setup
	@rm -rf $(EXPORTS) $(RUN_LOG) && mkdir -p $(EXPORTS)
	FMNIST_CACHE_ONLY=1 FMNIST_RUN_LOG=$(CURDIR)/$(RUN_LOG) FMNIST_FIGURES_DIR=$(CURDIR)/$(EXPORTS) \
		$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks
	$(BIN)/python scripts/compare_exports.py $(EXPORTS)
	$(BIN)/python scripts/check_unused_runs.py $(RUN_LOG)

## make test's replay once more under $(OTHER_BLAS): no output may depend on the BLAS kernel or thread count.
test-other-blas: setup
	@$(OTHER_BLAS) $(MAKE) --no-print-directory replay

## Speed of the NumPy MLP against PyTorch and Keras, idle and with one core busy (installs the bench extra; not
## part of CI), into results/benchmarks/mlp_speed.csv.
bench: setup
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python benchmarks/mlp_speed.py | tee results/benchmarks/mlp_speed.txt

## The NumPy MLP's epoch at 1 and 2 BLAS threads per network and batch, idle and busy, and notebook 03's best MLP
## against the code of BEFORE (a commit), into results/benchmarks/blas_threads.csv (not part of CI).
BEFORE ?=
bench-threads: setup
	$(BIN)/python benchmarks/blas_threads.py $(if $(BEFORE),--before $(BEFORE),)

## Seconds per epoch of the reports' CNNs on this machine, to plan CNN budgets (not part of CI).
bench-cnn: setup
	$(BIN)/python benchmarks/cnn_speed.py | tee results/benchmarks/cnn_speed.txt

## Seconds per epoch of a 32-64-128 CNN under thread, oneDNN, batch and backend settings (installs the bench extra).
bench-cnn-settings: setup
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python benchmarks/cnn_settings.py

## The series as a static HTML site in _build/book/html (Sphinx + myst-nb, docs/build_book.py): the notebooks as
## committed, with their stored outputs (never executed), a figure and table index, the references. Offline.
book: setup $(BOOK_INSTALLED)
	$(BIN)/python docs/build_book.py _build/book

## The site's test: tests/test_book.py builds it into a temporary folder and checks its pages and links (plain
## `pytest tests` skips those tests where the book extra is not installed).
test-book: setup $(BOOK_INSTALLED)
	$(BIN)/python -m pytest tests/test_book.py

$(BOOK_INSTALLED): $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,book]'
	@touch $@

clean-venv:
	rm -rf $(VENV)
