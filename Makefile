# ftcl: the two commands a user needs are `make book` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint bench bench-dp bench-train book reproduce clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall whenever the package metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev,book]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: bench-dp bench-train

bench-dp: $(STAMP)
	$(BIN)/python benchmarks/bench_dp.py

bench-train: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf _build .pytest_cache
