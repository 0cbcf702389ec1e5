from pathlib import Path

import pytest

from bench import scenarios
from bench.scenarios import ScenarioError, Workload
from strategies.base import Quota, Tier


def test_builtin_default_matches_the_issue() -> None:
    s = scenarios.load("default")
    assert s.server.quota[0].limit == 20 and s.server.quota[0].window_s == 1.0
    assert s.workload == Workload(200, "batch", None)
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
    with pytest.raises(ScenarioError, match=r"unknown scenario 'nope' \(built-in: default"):
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
