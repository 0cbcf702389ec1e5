# Two commands: `make bench` and `make test` each do all set-up first (venv + install).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup system-deps bench test lint gate bench-paced bench-server clean

# The first set-up installs ~40 packages (about a minute): pip's own lines show what it is doing.
$(STAMP): pyproject.toml
	@echo "ratebench: setting up $(VENV) (once; a minute or two)…"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -e '.[dev]'
	touch $(STAMP)
	@echo "ratebench: set up; the command is $(BIN)/ratebench (or activate: . $(BIN)/activate)"

setup: $(STAMP)

## The default comparison against the real mock server (uvicorn on 127.0.0.1); writes results/<run>/.
bench: $(STAMP)
	$(BIN)/ratebench run --scenario steady --strategies all

## Every built-in comparison scenario (docs/scenarios.md) × every strategy, real time: <out>/<time>-matrix/ with one
## run directory per scenario and matrix.json; prints scenarios done / total and an ETA. About 40 min (estimated: the
## virtual matrix's makespans sum to 35 min, plus ~12 s per scenario of start-up and report; not yet timed for real).
.PHONY: bench-matrix
bench-matrix: $(STAMP)
	$(BIN)/ratebench run --scenario all --strategies all

## Debian packages some tests need (chromium: the headless-browser test of report.html; redis-server: the
## Redis-backed strategies, bench/redis_server.py). Installed with apt-get
## when missing and we are root; otherwise a note, and those tests skip saying why. One line: others append to it.
APT_PACKAGES := chromium redis-server
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "system-deps: installing $$missing"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } \
	    || echo "system-deps: apt-get failed; the tests that need $$missing will skip"; \
	else echo "system-deps: missing $$missing (not root or no apt-get); the tests that need them will skip"; fi

## The full test suite, the accuracy gate, then lint and type checks.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory gate
	$(MAKE) --no-print-directory lint

## The CI gate on limiter accuracy (docs/ci.md): every built-in strategy on each scenario in virtual time, judged
## by tests/gate/thresholds/<scenario>.toml. The runs go in parallel (one process each; they are CPU-bound), then
## each is checked. Run directories are kept (and named) only when the gate fails. `run` exits 3 when a strategy
## failed or timed out: the run is complete, and the thresholds judge it (a timeout is a breach there).
GATE_DIR       := tests/gate
GATE_SCENARIOS := default token-bucket fixed-window
gate: $(STAMP)
	@out=$$(mktemp -d "$${TMPDIR:-/tmp}/ratebench-gate.XXXXXX"); status=0; \
	for s in $(GATE_SCENARIOS); do \
	  scen=$$s; [ -f $(GATE_DIR)/scenarios/$$s.toml ] && scen=$(GATE_DIR)/scenarios/$$s.toml; \
	  ( $(BIN)/python -m bench run --clock virtual --strategies all --scenario $$scen --out $$out/$$s \
	      > $$out/$$s.log 2>&1; echo $$? > $$out/$$s.rc ) & \
	done; wait; \
	for s in $(GATE_SCENARIOS); do \
	  echo "gate: $$s"; \
	  rc=$$(cat $$out/$$s.rc); \
	  if [ "$$rc" != 0 ] && [ "$$rc" != 3 ]; then cat $$out/$$s.log; status=2; continue; fi; \
	  $(BIN)/python -m bench check $$out/$$s/*/ --thresholds $(GATE_DIR)/thresholds/$$s.toml || status=1; \
	done; \
	if [ $$status = 0 ]; then rm -rf $$out; else echo "gate: FAILED; run directories kept in $$out"; fi; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check bench mock_server strategies tests benchmarks examples
	$(BIN)/mypy

## The harness's own paced-send accuracy (README "Harness accuracy"): 100, 500, 1 000 and 2 000/s, three repeats
## each (~80 s on a quiet machine); fails (exit 1) when any repeat achieves less than 99 % of its target rate.
PACED_RATES ?= 100 500 1000 2000
PACED_OUT   ?= results/paced
bench-paced: $(STAMP)
	@out=$(PACED_OUT)/$$(date -u +%Y%m%dT%H%M%SZ); \
	for r in $(PACED_RATES); do \
		$(BIN)/python -m bench run --scenario paced-$$r --strategies unlimited --repeat 3 --out $$out || exit $$?; \
	done; \
	$(BIN)/python -m bench.pacing $$out

## Big runs in real mode: 10³, 10⁴, 10⁵ jobs at once, wall / peak memory / CPU per request (docs/big-runs.md).
.PHONY: bench-big
bench-big: $(STAMP)
	$(BIN)/python benchmarks/big_runs.py --jobs 1000,10000,100000

## The harness's client transports side by side (docs/transports.md).
.PHONY: bench-transports
bench-transports: $(STAMP)
	$(BIN)/python benchmarks/transports.py --rates 500,1000,2000 --seconds 3

## The mock server's own ceiling, with the arrival log in memory, off and streamed to a file (docs/scenarios.md).
bench-server: $(STAMP)
	$(BIN)/python -m mock_server.loadtest --repeat 5

## Many clients, one quota (docs/scaling.md): 4 client processes on one API key, in-memory limiters against
## Redis-backed ones (a private redis-server); then the per-acquire cost of the Redis strategies at 1, 2, 4, 8
## client processes.
SHARED_STRATEGIES ?= aiolimiter,aiolimiter-smooth,token-bucket,asynciolimiter-strict,pyrate-memory,pyrate-memory-buffered,worker-pool,pyrate-redis,pyrate-redis-gcra
.PHONY: bench-shared-quota bench-scaling
bench-shared-quota: $(STAMP) system-deps
	$(BIN)/ratebench run --scenario shared-quota --processes 4 --strategies $(SHARED_STRATEGIES)
bench-scaling: $(STAMP) system-deps
	$(BIN)/python benchmarks/redis_scaling.py --processes 1,2,4,8

## CPU (and wall) cost of one uncontended acquire per limiter library → results/overhead/overhead.md (never a
## tracked file). To publish a new measurement: cp results/overhead/overhead.md docs/overhead.md, then commit.
## pyproject's addopts skip benchmarks (--benchmark-skip); --benchmark-only overrides it.
.PHONY: bench-overhead
OVERHEAD_OUT := results/overhead
bench-overhead: $(STAMP)
	mkdir -p $(OVERHEAD_OUT)
	$(BIN)/python -m pytest benchmarks/test_overhead.py -q --benchmark-only --benchmark-timer=time.process_time \
		--benchmark-json=$(OVERHEAD_OUT)/cpu.json
	$(BIN)/python -m pytest benchmarks/test_overhead.py -q --benchmark-only --benchmark-json=$(OVERHEAD_OUT)/wall.json
	$(BIN)/python benchmarks/render.py $(OVERHEAD_OUT)/cpu.json $(OVERHEAD_OUT)/wall.json > $(OVERHEAD_OUT)/overhead.md
	@echo "written: $(OVERHEAD_OUT)/overhead.md (to publish it: cp $(OVERHEAD_OUT)/overhead.md docs/overhead.md)"

## How long `bench report` takes: 24 strategies, and hour-long windows with 6 000 jobs (README "Speed").
.PHONY: bench-report
bench-report: $(STAMP)
	$(BIN)/python -m pytest benchmarks/test_report_speed.py -q --benchmark-only --benchmark-columns=min,median,max

## The full virtual matrix (every built-in scenario × every strategy), timed per scenario (README "Speed").
.PHONY: bench-virtual-matrix
bench-virtual-matrix: $(STAMP)
	$(BIN)/python benchmarks/virtual_matrix.py --budget 60

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

## The frontier limiter's targets (docs/strategies.md#frontier): the default scenario against the real server,
## 5 repeats, judged by benchmarks/frontier-real.toml (every repeat: 0 × 429, efficiency >= 0.97; ~15 s), then its
## grant rate at 1 000/s beside TokenBucket(1000, capacity=1) (bench.timer_rate, ~15 s). Exit 1 on a breach.
.PHONY: bench-frontier
bench-frontier: $(STAMP)
	@out=results/frontier/$$(date -u +%Y%m%dT%H%M%SZ); \
	$(BIN)/python -m bench run --scenario default --strategies frontier --repeat 5 --out $$out || exit $$?; \
	$(BIN)/python -m bench check $$out/*/ --thresholds benchmarks/frontier-real.toml; status=$$?; \
	$(BIN)/python -m bench.timer_rate || exit $$?; \
	exit $$status

## Wall time of the full matrix (every strategy × every built-in scenario), real vs virtual (~17 min).
bench-speedup: $(STAMP)
	$(BIN)/python -m bench.speedup

clean:
	rm -rf $(VENV) build *.egg-info

## Issue 11's real-time figures (docs/workloads.md): pyrate's buffer_ms sweep (default scenario, 3 repeats,
## ~2 min) and the stall scenario (~15 s). Results in results/<run>/ (report.md, charts/sweep-*.png).
.PHONY: bench-workloads
bench-workloads: $(STAMP)
	$(BIN)/python -m bench run --scenario tests/gate/scenarios/default.toml --strategies pyrate-memory \
	    --param pyrate-memory.buffer_ms=0,10,25,50 --repeat 3
	$(BIN)/python -m bench run --scenario stall --strategies asynciolimiter,token-bucket,asynciolimiter-strict
