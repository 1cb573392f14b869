# Two commands do all set-up on a fresh machine:
#   make demo   sets up and runs the whole pipeline on embedded defaults
#   make test   sets up and runs the whole test suite (starts and stops a real Kafka broker)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_WHEEL := $(firstword $(wildcard ../shared/wheels/torch-*+cpu-*.whl))
# Models load from installed packages only (the model hub is never contacted).
export HF_HUB_OFFLINE := 1

.PHONY: setup system-deps demo test lint typecheck linktree lint-imports fmt schemas bench kafka-up \
	kafka-down clean train-toxicity train-injection train-hallucination train-groundedness export-encoder

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

test: setup system-deps
	$(BIN)/pytest -q -ra

# Headless Chromium checks the HTML report; Java 17 + Maven assemble Kafka (tests start it).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 || { echo "install chromium (headless) for the report test" >&2; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v java >/dev/null 2>&1 || { echo "Java 17+ is needed (Kafka for the tests)" >&2; exit 1; }
	@command -v mvn >/dev/null 2>&1 || { echo "Maven is needed (assembles Kafka from Maven Central)" >&2; exit 1; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory lint-imports
	$(BIN)/lightkeeper export-schemas --check

# mypy and import-linter cannot follow setuptools' package-dir mapping (lightkeeper.agent lives
# in agent/), so they check a tree of links laid out as the wheel installs it.
linktree:
	rm -rf build/typecheck && mkdir -p build/typecheck/lightkeeper
	for e in lightkeeper/*; do ln -s ../../../$$e build/typecheck/lightkeeper/; done
	for d in agent processors schemas alerts; do ln -s ../../../$$d build/typecheck/lightkeeper/$$d; done

typecheck: setup linktree
	cd build/typecheck && ../../$(BIN)/python -m mypy --config-file ../../pyproject.toml -p lightkeeper

# Detector models: leave-one-source-out selection on ../shared/data, artifact + card written to
# processors/artifacts (training/ is not installed; embeddings are cached outside the repository).
# HEADS='lr_c0.05 lr_c0.3' limits the candidate heads compared (default: all of training/text_heads.py).
TRAIN := nice -n 10 $(BIN)/python -m

train-toxicity: setup
	$(TRAIN) training.train_toxicity $(if $(HEADS),--heads $(HEADS))

train-injection: setup
	$(TRAIN) training.train_injection $(if $(HEADS),--heads $(HEADS))

train-hallucination: setup
	$(TRAIN) training.train_hallucination

train-groundedness: train-hallucination

# The layer contract in pyproject.toml [tool.importlinter].
lint-imports: setup linktree
	cd build/typecheck && ../../$(BIN)/lint-imports ../../pyproject.toml

schemas: setup
	$(BIN)/lightkeeper export-schemas

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The runtime's sentence encoder (ONNX, int8) from the bundled all-MiniLM-L6-v2 weights; needs the
# training extra (torch). Writes processors/artifacts/minilm-l6-v2-int8/ with its card.json.
export-encoder: setup
	$(BIN)/python -m training.export_encoder

kafka-up: setup
	$(BIN)/lightkeeper dev kafka up

kafka-down: setup
	$(BIN)/lightkeeper dev kafka down

clean:
	rm -rf $(VENV) .lightkeeper build *.egg-info .pytest_cache .mypy_cache .ruff_cache
