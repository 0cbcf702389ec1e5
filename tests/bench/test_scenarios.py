from pathlib import Path

import pytest

from bench import scenarios
from bench.scenarios import ScenarioError, Workload
from strategies.base import Quota, Tier


def test_builtin_steady_is_the_default_sized_for_make_bench() -> None:
    s = scenarios.load("default")  # an alias: make bench and --scenario's default
    assert s.name == "steady" and s.source == scenarios.load("steady").source
    assert s.server.quota[0].limit == 20 and s.server.quota[0].window_s == 1.0
    assert s.workload == Workload(60, "batch", None)
    assert s.declared == Quota((Tier(20, 1.0),), 20)
    assert s.latency_s == 0.01


def test_declared_can_differ_from_enforced(tmp_path: Path) -> None:
    p = tmp_path / "lying.toml"
    p.write_text("[[server.quota]]\nlimit = 10\nwindow_s = 1\n[[declared.quota]]\nlimit = 12\nwindow_s = 1\n"
                 "[workload]\njobs = 5\n")
    s = scenarios.load(str(p))
    assert s.declared.tiers == (Tier(12, 1.0),) and s.server.quota[0].limit == 10
    assert s.name == "lying"


def test_rate_release_times() -> None:
    assert Workload(4, "rate", 4.0).release_times() == [0.0, 0.25, 0.5, 0.75]
    assert Workload(2).release_times() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[workload]\njobs = 0\n", "workload.jobs: must be an integer >= 1, got 0"),
        ("[workload]\njobs = 5\nrelease = \"sometimes\"\n", "workload.release: must be one of \"batch\", \"rate\""),
        ("[workload]\njobs = 5\nrelease = \"rate\"\n", "workload.rate: required"),
        ("[workload]\njobs = 5\nrelease = \"rate\"\nrate = inf\n", "workload.rate: must be a number > 0, got inf"),
        ("[workload]\njobs = 5\nrate = 3\n", "workload.rate: not used by release = 'batch'"),
        ("[workload]\njobs = 5\n[client]\ntimeout_s = inf\n", "client.timeout_s: must be a number > 0, got inf"),
        ("name = \"../escape\"\n[workload]\njobs = 5\n", "name: must be letters, digits"),
        ("[workload]\njobs = 5\n[server.log]\nenabled = false\n", "server.log.enabled: must be true"),
        ("[workload]\njobs = 5\n[client]\nconcurrency = -2\n", "client.concurrency: must be an integer >= 1"),
        ("[workload]\njobs = 5\n[[server.quota]]\nlimit = 'x'\nwindow_s = 1\n", "server.quota[0].limit"),
        ("[workload]\njobs = 5\nburst = 1\n", "workload.burst: unknown key"),
        ("colour = 'red'\n[workload]\njobs = 5\n", "colour: unknown key"),
        ("[workload\njobs = 5\n", "not valid TOML"),
    ],
)
def test_bad_scenarios_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(toml)
    with pytest.raises(ScenarioError) as e:
        scenarios.load(str(p))
    assert message in str(e.value)


def test_unknown_name_lists_builtins() -> None:
    with pytest.raises(ScenarioError,
                       match=r"unknown scenario 'nope' \(built-in: fixed-window-aligned.*default = steady"):
        scenarios.load("nope")


def test_llm_api_declares_both_tiers_and_draws_seeded_costs() -> None:
    sc = scenarios.load("llm-api")
    assert [t.unit for t in sc.declared.tiers] == ["requests", "tokens"]
    assert sc.declared.binding == Tier(50, 5.0) and sc.declared.token_tiers == (Tier(5000, 5.0, "tokens"),)
    costs = sc.workload.costs()
    assert costs == scenarios.load("llm-api-anthropic").workload.costs()  # same seed, same workload
    assert len(costs) == 70 and min(costs) >= 1 and max(costs) <= 1000
    assert sc.resolved()["workload"]["cost"]["model"] == "lognormal"


_TOKENS = '[[server.quota]]\nlimit = 100\nwindow_s = 1\nunit = "tokens"\n'


@pytest.mark.parametrize(("body", "message"), [
    ('[workload]\njobs = 1\ncost = { model = "uniform", low = 1, high = 101 }\n', "more than the smallest token tier"),
    ('[workload]\njobs = 1\ncost = { model = "fixed", median = 3 }\n', "workload.cost.median: not used by cost model"),
    ('[workload]\njobs = 1\ncost = { model = "gauss" }\n', "workload.cost.model: must be one of"),
    ('[workload]\njobs = 1\ncost = { model = "uniform", low = 5, high = 2 }\n', "workload.cost.high: must be >= low"),
    ('[workload]\njobs = 1\ncost = { model = "lognormal", median = 50 }\n', "workload.cost.max"),
])
def test_bad_costs_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    p = tmp_path / "s.toml"
    p.write_text(_TOKENS + body)
    with pytest.raises(ScenarioError, match=message):
        scenarios.load(str(p))


# --- workload shapes (issue 11) -----------------------------------------------------------------------


def test_poisson_is_seeded_and_starts_at_zero() -> None:
    a = Workload(2000, "poisson", 10.0, seed=3).release_times()
    assert a == Workload(2000, "poisson", 10.0, seed=3).release_times()
    assert a != Workload(2000, "poisson", 10.0, seed=4).release_times()
    assert a[0] == 0.0 and a == sorted(a)
    # Mean gap 1/rate: over 1 999 exponential gaps the mean is within 10 % (about 4.5 standard errors).
    assert abs(a[-1] / 1999 - 0.1) < 0.01


def test_shapes_by_hand() -> None:
    assert Workload(3, "ramp", 2.0, rate_to=2.0).release_times() == [0.0, 0.5, 1.0]  # a flat ramp is a rate
    # 4 per s for 0.5 s (2 jobs), then 1 s off: 0, 0.25 | 1.5, 1.75 | 3.0
    assert Workload(5, "onoff", 4.0, on_s=0.5, off_s=1.0).release_times() == [0.0, 0.25, 1.5, 1.75, 3.0]
    assert Workload(3, "idle-burst", warmup=1, idle_s=2.0).release_times() == [0.0, 2.0, 2.0]


def test_ramp_reaches_its_end_rate_at_the_last_job() -> None:
    # k = (r1² − r0²) / (2 (n − 1)); job i at (√(r0² + 2 k i) − r0) / k.
    # 1 → 3 per s over 4 jobs: k = 8/6 = 4/3; t = 0.75 (√(1 + 8i/3) − 1) = 0, 0.68614, 1.13746, 1.5;
    # the rate at 1.5 s is 1 + 4/3 · 1.5 = 3.
    up = Workload(4, "ramp", 1.0, rate_to=3.0).release_times()
    assert up == pytest.approx([0.0, 0.686141, 1.137459, 1.5], abs=1e-6)
    # Up from 0: 0 → 2 per s over 3 jobs: k = 4/4 = 1; t = √(2i) = 0, 1.41421, 2 (rate 2 at 2 s).
    assert Workload(3, "ramp", 0.0, rate_to=2.0).release_times() == pytest.approx([0.0, 2 ** 0.5, 2.0])
    # Down: 3 → 1 per s over 4 jobs: k = −4/3; t = 0.75 (3 − √(9 − 8i/3)) = 0, 0.36254, 0.81386, 1.5.
    down = Workload(4, "ramp", 3.0, rate_to=1.0).release_times()
    assert down == pytest.approx([0.0, 0.362541, 0.813859, 1.5], abs=1e-6)
    assert str(down[0]) == "0.0"  # not -0.0
    assert Workload(1, "ramp", 1.0, rate_to=3.0).release_times() == [0.0]
    ts = Workload(1001, "ramp", 10.0, rate_to=30.0).release_times()
    assert ts == sorted(ts)
    assert 1 / (ts[1] - ts[0]) == pytest.approx(10.0, rel=0.01)
    assert 1 / (ts[-1] - ts[-2]) == pytest.approx(30.0, rel=0.001)


def test_release_times_stream() -> None:
    # A billion jobs: nothing is built up front.
    it = Workload(10**9, "poisson", 5.0).iter_release_times()
    assert next(it) == 0.0 and next(it) > 0.0
    assert next(iter(Workload(10**9, "ramp", 1.0, rate_to=2.0).iter_release_times())) == 0.0


def test_a_ramp_may_start_from_zero(tmp_path: Path) -> None:
    p = tmp_path / "w.toml"
    p.write_text("[[server.quota]]\nlimit = 10\nwindow_s = 1\n[workload]\njobs = 3\nrelease = \"ramp\"\n"
                 "rate = 0\nrate_to = 2\n")
    assert scenarios.load(str(p)).workload.release_times() == pytest.approx([0.0, 2 ** 0.5, 2.0])


def test_new_workload_keys_parse_and_are_checked(tmp_path: Path) -> None:
    p = tmp_path / "w.toml"
    p.write_text("[[server.quota]]\nlimit = 10\nwindow_s = 1\n[workload]\njobs = 5\nrelease = \"poisson\"\n"
                 "rate = 4\nseed = 7\ndeadline_s = 2\ncancel_fraction = 0.5\ncancel_after_s = 0.3\nphase_s = 0.25\n"
                 "[params.token-bucket]\ncapacity = [1, 5]\n[load]\nstalls = [{at_s = 1, for_s = 0.5}]\n")
    s = scenarios.load(str(p))
    assert s.workload == Workload(5, "poisson", 4.0, seed=7, deadline_s=2.0, cancel_fraction=0.5,
                                  cancel_after_s=0.3, phase_s=0.25)
    assert s.resolved()["workload"]["seed"] == 7 and s.resolved()["params"] == {"token-bucket": {"capacity": [1, 5]}}
    assert s.resolved()["load"]["stalls"] == [{"at_s": 1.0, "for_s": 0.5}]


@pytest.mark.parametrize(("body", "message"), [
    ("release = \"poisson\"\nrate = 4\non_s = 1", "workload.on_s: not used by release = 'poisson' (only with 'onoff')"),
    ("release = \"ramp\"\nrate = 4", "workload.rate_to: required"),
    ("cancel_fraction = 0.5", "workload.cancel_after_s: required with cancel_fraction"),
    ("cancel_fraction = 1.5\ncancel_after_s = 1", "workload.cancel_fraction: must be a number in [0, 1]"),
    ("phase_s = 1.0", "workload.phase_s: the phase of the first server quota tier's window"),
    ("release = \"idle-burst\"\nwarmup = 9\nidle_s = 5", "workload.warmup: must be less than workload.jobs (5)"),
    ("release = \"idle-burst\"\nwarmup = 5\nidle_s = 5", "workload.warmup: must be less than workload.jobs (5)"),
    ("release = \"idle-burst\"\nwarmup = 0\nidle_s = 5", "workload.warmup: must be an integer >= 1"),
    ("release = \"idle-burst\"\nwarmup = 1\nidle_s = 0", "workload.idle_s: must be a number > 0"),
    ("release = \"idle-burst\"\nwarmup = 1", "workload.idle_s: required"),
    ("release = \"ramp\"\nrate = 4\nrate_to = 0", "workload.rate_to: must be a number > 0"),
    ("release = \"rate\"\nrate = 0", "workload.rate: must be a number > 0"),
])
def test_bad_workload_keys_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    p = tmp_path / "w.toml"
    p.write_text(f"[[server.quota]]\nlimit = 10\nwindow_s = 1\n[workload]\njobs = 5\n{body}\n")
    with pytest.raises(ScenarioError) as e:
        scenarios.load(str(p))
    assert message in str(e.value)


def test_idle_burst_shows_the_articles_bucket_releasing_capacity_plus_one() -> None:
    """Issue 11: after idling, the article's bucket (capacity int(10) = 10) sends 11 at once: its leftover
    token, then a full refill from its stale last_refill; a correct bucket of capacity 10 sends 10."""
    from collections import Counter

    from bench import params
    from bench.runner import run_virtual

    sc = scenarios.load("idle-burst")
    burst = {}
    for cls in params.expand(["token-bucket-naive", "token-bucket"], sc.params):
        r = run_virtual(cls, sc)
        burst[cls.name] = Counter(a.sent_s for a in r.attempts if a.attempt == 1)[sc.workload.idle_s]
    assert burst == {"token-bucket-naive": 11, "token-bucket[capacity=10]": 10}


def test_virtual_run_starts_at_the_asked_phase() -> None:
    from dataclasses import replace

    from bench.runner import run_virtual
    from strategies.registry import resolve

    sc = scenarios.load("default")
    sc = replace(sc, workload=replace(sc.workload, jobs=5, phase_s=0.3))
    r = run_virtual(resolve("unlimited"), sc)
    assert r.metrics.window_phase_s == (0.3,)


# --- The built-in comparison scenarios (issue 8): each loads, says what it imitates, and runs in virtual time ---

MATRIX = ("steady", "fixed-window-aligned", "token-bucket-burst", "multi-tier", "github-like", "ietf-like",
          "slow-server", "underdeclared", "noisy-neighbour", "outage", "open-loop")


@pytest.mark.parametrize("name", MATRIX)
def test_each_matrix_scenario_loads_as_a_comparison(name: str) -> None:
    sc = scenarios.load(name)
    assert sc.name == name and sc.kind == "comparison" and sc.description
    assert sc.server.quota and sc.declared.tiers
    assert name in scenarios.comparison_names()
    # Sized so that one strategy takes about 10 s or less: the fastest schedule the declared quota allows.
    rate = min(t.limit / t.window_s for t in sc.declared.tiers)
    assert sc.workload.jobs / rate <= 12, "too long for a matrix cell"
    doc = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
    assert f"`{name}`" in doc.read_text(), f"{name} is not documented in docs/scenarios.md"


def test_each_scenario_has_the_behaviour_its_name_promises() -> None:
    github = scenarios.load("github-like").server
    assert (github.headers.dialect, github.headers.reject_status, github.headers.retry_after) == ("github", 403, "none")
    assert github.headers.reset == "epoch" and github.quota[0].algorithm == "fixed-window"
    ietf = scenarios.load("ietf-like").server.headers
    assert (ietf.dialect, ietf.retry_after) == ("ietf-draft10", "http-date")
    assert len(scenarios.load("multi-tier").server.quota) == 2
    under = scenarios.load("underdeclared")
    assert under.declared.tiers[0].limit > under.server.quota[0].limit
    assert scenarios.load("noisy-neighbour").server.dynamics.neighbour is not None
    assert scenarios.load("outage").server.faults.outages
    slow = scenarios.load("slow-server")
    assert slow.latency_s > 5 * slow.declared.tiers[0].window_s / slow.declared.tiers[0].limit
    wl, tier = scenarios.load("open-loop").workload, scenarios.load("open-loop").declared.tiers[0]
    assert wl.release == "poisson" and wl.rate == pytest.approx(1.5 * tier.limit / tier.window_s)
    assert scenarios.load("token-bucket-burst").server.quota[0].burst == 20


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_a_bare_server_config_is_a_scenario(path: Path) -> None:
    sc = scenarios.load(str(path))
    assert sc.name == path.stem and sc.kind == "comparison"
    assert sc.declared.tiers == tuple(Tier(q.limit, q.window_s, q.unit) for q in sc.server.quota)
    smallest = min(q.limit for q in sc.server.quota)
    assert sc.workload.jobs == scenarios.BARE_JOBS_PER_LIMIT * smallest and sc.workload.release == "batch"
    assert sc.timeout_s >= 3 * scenarios.BARE_JOBS_PER_LIMIT * max(q.window_s for q in sc.server.quota)
    assert "move the file's keys under [server]" in sc.description
    # ... and runs (the complaint: `--scenario examples/github.toml` was refused).
    from bench.runner import run_virtual
    from strategies.registry import resolve

    r = run_virtual(resolve("token-bucket"), sc, 0, None)
    assert r.status == "ok" and r.metrics.requests == sc.workload.jobs


def test_a_bare_config_mixed_with_scenario_tables_says_how_to_wrap_it(tmp_path: Path) -> None:
    p = tmp_path / "mixed.toml"
    p.write_text("[[quota]]\nlimit = 5\nwindow_s = 1\n[workload]\njobs = 3\n")
    with pytest.raises(ScenarioError, match=r"quota: a mock-server key at the top level .* under \[server\]"):
        scenarios.load(str(p))
    p.write_text("[headers]\ndialect = \"github\"\n")
    with pytest.raises(ScenarioError, match="needs at least one \\[\\[quota\\]\\] tier"):
        scenarios.load(str(p))


@pytest.mark.parametrize("name", ["github-like", "noisy-neighbour", "outage"])
def test_a_scenario_runs_every_strategy_kind_in_virtual_time(name: str) -> None:
    # A smoke run of a few strategies of different families (the full matrix runs in `make gate`-like CI
    # jobs and `bench run --scenario all --clock virtual`): no crash, and every job accounted for.
    from bench.runner import run_virtual
    from strategies.registry import resolve

    sc = scenarios.load(name)
    for strategy in ("token-bucket", "adaptive-headers", "retry-backoff"):
        r = run_virtual(resolve(strategy), sc, 0, None)
        assert r.status == "ok", (strategy, r.error)
        assert r.metrics.requests == sc.workload.jobs
        assert r.foreign_arrivals == 0  # the neighbour's requests are the server's own, not foreign
        if name == "github-like":  # the 403s are rejections: counted as such, and only the retrier meets them
            assert (r.metrics.throttled > 0) == (strategy == "retry-backoff"), (strategy, r.metrics.throttled)
