# Two commands for a newcomer: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# jsii lists the Node majors whose end-of-life banner to silence (comma-separated). Node 20 is end-of-life
# for jsii since 2026-10-30 and still works; 22 and 24 need nothing. Supported Node: >=20 <25 (README).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: demo test lint bench lock soak venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install --quiet -e '.[cli,dev,cdk]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/fanout local run --scenario happy

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m fanout.local.cfn_lint

test: lint
	$(BIN)/pytest -n 2

# The once-only property test with thousands of random event and fault schedules (CI runs 20 examples).
SOAK_EXAMPLES ?= 2000
SOAK_SHARDS ?= 2
SOAK_FLAGS ?=
soak: $(STAMP)
	FANOUT_PROPERTY_EXAMPLES=$(SOAK_EXAMPLES) FANOUT_PROPERTY_SHARDS=$(SOAK_SHARDS) \
		$(BIN)/pytest tests/consumers/runtime/test_once_only_property.py -n $(SOAK_SHARDS) -p no:cacheprovider \
		--hypothesis-show-statistics --durations=0 -q $(SOAK_FLAGS)

# Every benchmark, then one table (figure, goal, reference, measured, verdict); never part of `make test`.
bench: $(STAMP)
	$(BIN)/python bench/all.py --markdown bench/results/table.md

# Re-pin the Lambda asset's dependencies (exact versions and sha256 hashes for manylinux aarch64 / cp313)
# from pyproject.toml's [project].dependencies; commit the result.
lock: $(STAMP)
	$(BIN)/python -m infra.packaging lock

clean:
	rm -rf $(VENV) cdk.out .cdk-cache .pytest_cache .mypy_cache .ruff_cache
