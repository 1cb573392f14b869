# Two commands do all set-up on a fresh machine:
#   make demo   sets up and runs the whole pipeline on embedded defaults
#   make test   sets up and runs the whole test suite (starts and stops a real Kafka broker)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_WHEEL := $(firstword $(wildcard ../shared/wheels/torch-*+cpu-*.whl))

.PHONY: setup demo test lint fmt schemas bench kafka-up kafka-down clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
ifneq ($(TORCH_WHEEL),)
	$(BIN)/pip install -q "$(TORCH_WHEEL)"
endif
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/lightkeeper demo

test: setup
	$(BIN)/python -m pytest -q -ra

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lightkeeper export-schemas --check

schemas: setup
	$(BIN)/lightkeeper export-schemas

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

kafka-up: setup
	$(BIN)/lightkeeper dev kafka up

kafka-down: setup
	$(BIN)/lightkeeper dev kafka down

clean:
	rm -rf $(VENV) .lightkeeper build *.egg-info .pytest_cache .mypy_cache .ruff_cache
