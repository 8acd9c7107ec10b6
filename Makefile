# The two commands: `make demo` (the main job) and `make test`. Both create the virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow test-all lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

# The main job: train the translator on the embedded CLDR corpus, report BLEU/chrF/exact
# match and samples, export saved_models/translator/<version>/, check it as TF Serving loads it.
# 1,500 steps of the `mini` preset; bfloat16 only where the CPU has it natively; training
# stops after 6 minutes on a CPU too slow for all 1,500 steps.
DEMO_ARGS ?= --source cldr:en-pt --preset mini --epochs 5 --steps-per-epoch 300 \
	--warmup-steps 600 --vocab-size 4000 --max-tokens 40 --batch-tokens 1280 \
	--mixed-precision auto --time-budget 6m

demo: $(STAMP)
	$(BIN)/tf-transformer translate train $(DEMO_ARGS) --export saved_models/translator

# `make test`: every test but the end-to-end runs marked slow; `make test-slow`: those;
# `make test-all`: both in one pytest. `.ci/run` runs `make test`, then `make test-slow`.
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

test-all: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every benchmark (KerasHub, the peer, comes with the bench extra); rewrites
# benchmarks/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python -m pip install -e '.[test,bench]'
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
