# Two commands: `make bench` and `make test` each do all set-up first (venv + install).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup bench test lint bench-paced bench-server clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## The default comparison against the real mock server (uvicorn on 127.0.0.1); writes results/<run>/.
bench: $(STAMP)
	$(BIN)/python -m bench run --scenario default --strategies all

## The full test suite, then lint and type checks.
test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory lint

lint: $(STAMP)
	$(BIN)/ruff check bench mock_server strategies tests benchmarks examples
	$(BIN)/mypy

## The harness's own paced-send accuracy (README "Harness accuracy").
bench-paced: $(STAMP)
	$(BIN)/python -m bench run --scenario paced-100 --strategies unlimited --repeat 3
	$(BIN)/python -m bench run --scenario paced-500 --strategies unlimited --repeat 3

## The mock server's own ceiling, with the arrival log in memory, off and streamed to a file (docs/scenarios.md).
bench-server: $(STAMP)
	$(BIN)/python -m mock_server.loadtest --repeat 5

## CPU (and wall) cost of one uncontended acquire per limiter library → docs/overhead.md.
## pyproject's addopts skip benchmarks (--benchmark-skip); --benchmark-only overrides it.
.PHONY: bench-overhead
OVERHEAD_OUT := results/overhead
bench-overhead: $(STAMP)
	mkdir -p $(OVERHEAD_OUT)
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-timer=time.process_time \
		--benchmark-json=$(OVERHEAD_OUT)/cpu.json
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-json=$(OVERHEAD_OUT)/wall.json
	$(BIN)/python benchmarks/render.py $(OVERHEAD_OUT)/cpu.json $(OVERHEAD_OUT)/wall.json > docs/overhead.md

## Virtual mode's network/timer model (bench/netmodel.py). Measure this machine into a new profile (~30 s):
## results/profile-<time>.json; to ship it, copy it over bench/profiles/default.json.
.PHONY: bench-calibrate bench-fidelity bench-timer-rate bench-speedup
bench-calibrate: $(STAMP)
	$(BIN)/python -m bench calibrate

## Does virtual time predict real runs? Every strategy, three scenarios, real ×3 and virtual ×3 →
## docs/fidelity.md and bench/fidelity.json (the report's "not predictive" marks). ~15 min on a quiet machine.
bench-fidelity: $(STAMP)
	$(BIN)/python -m bench.fidelity --repeat 3

## TokenBucket(1000, capacity=1): its rate on a real loop and in virtual time with the default profile.
bench-timer-rate: $(STAMP)
	$(BIN)/python -m bench.timer_rate

## Wall time of the full matrix (every strategy × every built-in scenario), real vs virtual (~17 min).
bench-speedup: $(STAMP)
	$(BIN)/python -m bench.speedup

clean:
	rm -rf $(VENV) build *.egg-info
