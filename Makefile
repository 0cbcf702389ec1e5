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
	$(BIN)/python -m pytest benchmarks/test_overhead.py -q --benchmark-only --benchmark-timer=time.process_time \
		--benchmark-json=$(OVERHEAD_OUT)/cpu.json
	$(BIN)/python -m pytest benchmarks/test_overhead.py -q --benchmark-only --benchmark-json=$(OVERHEAD_OUT)/wall.json
	$(BIN)/python benchmarks/render.py $(OVERHEAD_OUT)/cpu.json $(OVERHEAD_OUT)/wall.json > docs/overhead.md

## How long `bench report` takes: 24 strategies, and hour-long windows with 6 000 jobs (README "Speed").
.PHONY: bench-report
bench-report: $(STAMP)
	$(BIN)/python -m pytest benchmarks/test_report_speed.py -q --benchmark-only --benchmark-columns=min,median,max

## The full virtual matrix (every built-in scenario × every strategy), timed per scenario (README "Speed").
.PHONY: bench-virtual-matrix
bench-virtual-matrix: $(STAMP)
	$(BIN)/python benchmarks/virtual_matrix.py --budget 60

clean:
	rm -rf $(VENV) build *.egg-info
