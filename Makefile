# Two commands do all the set-up: `make run` and `make test`. Both build .venv on first use
# and reinstall only when pyproject.toml changes (the stamp file records that).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run scenarios test test-deep chaos contracts-deep bench bench-sync bench-drivers lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

# `make run SCENARIO=missing-vins` loads a QA scenario's world and changes (fixtures/scenarios/).
run: $(STAMP)
	@$(BIN)/fleetsim serve $(if $(SCENARIO),--scenario $(SCENARIO))

# Every QA scenario on stacks of their own (make test runs them too); exit 0 only if all pass.
scenarios: $(STAMP)
	@$(BIN)/fleetsim scenario run --all

test: $(STAMP)
	@$(BIN)/python -m pytest

# Bigger property-based and contract budgets than `make test` can afford on 2 cores.
test-deep: $(STAMP)
	@FLEETSIM_DEEP=1 $(BIN)/python -m pytest

# All 20 seeded fault plans and 20 engine kills (`make test` runs 5 of each; docs/chaos.md).
chaos: $(STAMP)
	@FLEETSIM_CHAOS=full $(BIN)/python -m pytest tests/chaos

# The contract suite (tests/contracts/) with far more examples and longer stateful walks.
contracts-deep: $(STAMP)
	@FLEETSIM_DEEP=1 $(BIN)/python -m pytest tests/contracts

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
