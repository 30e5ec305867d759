# Two commands do all the set-up: `make run` and `make test`. Both build .venv on first use
# and reinstall only when pyproject.toml changes (the stamp file records that).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-deep bench bench-sync bench-drivers lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/fleetsim serve

test: $(STAMP)
	@$(BIN)/python -m pytest

# Bigger property-based and contract budgets than `make test` can afford on 2 cores.
test-deep: $(STAMP)
	@FLEETSIM_DEEP=1 $(BIN)/python -m pytest

bench: $(STAMP)
	@$(BIN)/python benchmarks/run.py

bench-sync: $(STAMP)
	@$(BIN)/python benchmarks/sync.py

bench-drivers: $(STAMP)
	@$(BIN)/python benchmarks/drivers.py

lint: $(STAMP)
	@$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy sync_engine mock_vendors

clean:
	rm -rf $(VENV) .fleetsim build *.egg-info
