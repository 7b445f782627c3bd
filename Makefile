# ftcl: the two commands a user needs are `make book` and `make test`.
PY ?= python3
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint mutation bench bench-dp bench-train bench-data book reproduce reproduce-if-missing clean

# torch: the version the committed results were made with (2.13.0, CPU build). A machine without
# an NVIDIA GPU takes PyTorch's CPU wheels (TORCH_INDEX): PyPI's Linux wheels pull several GB of
# CUDA libraries. A compatible torch of the Python running make (conda env, system) is reused
# instead of installed. `make venv TORCH_INDEX=` uses PyPI's default wheels.
TORCH ?= torch==2.13.0
TORCH_INDEX ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,https://download.pytorch.org/whl/cpu)

# (Re)install whenever the package metadata changes; tools/setup_venv.py prints each step, each
# package and the seconds since the start, the size of .venv and the time at the end.
$(STAMP): pyproject.toml
	$(PY) tools/setup_venv.py --venv $(VENV) --torch "$(TORCH)" --torch-index "$(TORCH_INDEX)" \
	  --extras dev,book,ray
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

# --- Mutation testing of the core (tools/mutation.py; not part of `make test`) ---------------
# One scope per core module, each with its own tests; writes results/mutation/{after.json,
# REPORT.md}. One scope: make mutation SCOPE=io. More workers: MUTATION_FLAGS="--jobs 2".
SCOPE ?=
MUTATION_FLAGS ?=
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py $(if $(SCOPE),$(foreach s,$(SCOPE),--scope $(s))) $(MUTATION_FLAGS)

bench: bench-dp bench-train bench-data

bench-dp: $(STAMP)
	$(BIN)/python benchmarks/bench_dp.py

bench-train: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py

bench-data: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py

# --- The book (Jupyter Book 1, see _config.yml) ---------------------------------------------
# Built into $(BOOK_OUT); a failing notebook cell fails the build (execute.raise_on_error).
BOOK_OUT := _build/html
# plotly.js is served by the book itself (no CDN): copied from the installed plotly package so
# that it always matches the Python package that wrote the figures. Git-ignored.
BOOK_PLOTLYJS := book/static/plotly/plotly.min.js
# The results the book reads; `reproduce-if-missing` is the hook that will create them.
BOOK_RESULTS := results/quick
# --all: rebuild (and so re-execute) every page, also when only ftcl/ changed.
# -W: a Sphinx warning (broken reference, missing page...) fails the build too.
BOOK_BUILD_FLAGS ?= --all -W --keep-going

book: $(STAMP) reproduce-if-missing
	@mkdir -p $(dir $(BOOK_PLOTLYJS))
	$(BIN)/python -c "import pathlib, shutil, plotly; \
	shutil.copyfile(pathlib.Path(plotly.__file__).parent / 'package_data' / 'plotly.min.js', \
	'$(BOOK_PLOTLYJS)')"
	$(BIN)/python -c "from ftcl.book.stored_run import stored_run_page; \
	stored_run_page('results', 'quick', 'book/training_run.ipynb')"
	@start=$$(date +%s); \
	$(BIN)/jupyter-book build $(BOOK_BUILD_FLAGS) . || exit $$?; \
	echo "book: built $(BOOK_OUT)/index.html in $$(( $$(date +%s) - start )) s"

# --- The reproduction batch: every training run of Tables 1-5, through notebooks/04_train.py --
# Resumable (finished runs are skipped); writes results/<profile>/ (records, logs, tables).
# Same options as `python -m ftcl reproduce`, e.g. make reproduce REPRODUCE_FLAGS="--seeds 0".
REPRODUCE_FLAGS ?= --profile quick
reproduce: $(STAMP)
	$(BIN)/python -m ftcl reproduce $(REPRODUCE_FLAGS)

# Runs the quick reproduction only when its run records are missing (they are committed).
reproduce-if-missing: $(STAMP)
	@if [ -d "$(BOOK_RESULTS)/runs" ]; then echo "book: reading results from $(BOOK_RESULTS)"; \
	else $(BIN)/python -m ftcl reproduce --profile quick; fi

clean:
	rm -rf _build .pytest_cache
