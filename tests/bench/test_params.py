from pathlib import Path

import pytest

from bench import params
from bench.cli import main
from bench.dryrun import send_times
from bench.params import ParamError, expand, from_table, merge, parse_cli, sweep_meta
from strategies import registry
from strategies.asynciolimiter_variants import Leaky
from strategies.base import Quota, Tier, configured
from strategies.pyrate import PyrateMemory
from strategies.throttler import Throttle
from strategies.token_bucket_naive import NaiveTokenBucket


def test_a_sweep_is_one_row_per_combination_in_the_order_given() -> None:
    spec = parse_cli(["aiolimiter.time_period=2,1", "aiolimiter.max_rate=5,10"])
    names = [c.name for c in expand(["aiolimiter"], spec)]
    # Declaration order in the name (max_rate before time_period), values in the order given.
    assert names == ["aiolimiter[max_rate=5,time_period=2]", "aiolimiter[max_rate=5,time_period=1]",
                     "aiolimiter[max_rate=10,time_period=2]", "aiolimiter[max_rate=10,time_period=1]"]


def test_the_command_line_overrides_the_scenario_per_parameter() -> None:
    spec = merge(from_table({"token-bucket": {"capacity": [2, 3]}, "pyrate-memory": {"buffer_ms": 50}}),
                 parse_cli(["token-bucket.capacity=7"]))
    classes = expand(["token-bucket", "pyrate-memory", "unlimited"], spec)
    assert [c.name for c in classes] == ["token-bucket[capacity=7]", "pyrate-memory[buffer_ms=50]", "unlimited"]
    assert sweep_meta(classes) == {
        "token-bucket[capacity=7]": {"strategy": "token-bucket", "values": {"capacity": 7.0}},
        "pyrate-memory[buffer_ms=50]": {"strategy": "pyrate-memory", "values": {"buffer_ms": 50}}}


def test_a_scenario_table_for_a_strategy_not_run_is_checked_but_unused() -> None:
    assert [c.name for c in expand(["unlimited"], from_table({"token-bucket": {"capacity": 2}}))] == ["unlimited"]
    with pytest.raises(ParamError, match=r"params.token-bucket.size: strategy 'token-bucket' has no parameter"):
        expand(["unlimited"], from_table({"token-bucket": {"size": 2}}))
    with pytest.raises(ParamError, match=r"params.nope.x: unknown strategy 'nope'"):
        expand(["unlimited"], from_table({"nope": {"x": 2}}))


@pytest.mark.parametrize(("items", "message"), [
    (["token-bucket.capacity=0.5"], "--param token-bucket.capacity: capacity: must be >= 1, got 0.5"),
    (["token-bucket.capacity=big"], "--param token-bucket.capacity: capacity: must be a number, got 'big'"),
    (["pyrate-memory.buffer_ms=2.5"], "--param pyrate-memory.buffer_ms: buffer_ms: must be a whole number"),
    (["semaphore.x=1"], "strategy 'semaphore' has no parameter 'x' (it has: none)"),
    (["aiolimiter.max_rate=1"], "--param aiolimiter.max_rate: strategy 'aiolimiter' is not among the strategies"),
    (["token-bucket.capacity=2,2"], "'token-bucket[capacity=2]' would run twice"),
])
def test_bad_settings_name_what_is_wrong(items: list[str], message: str) -> None:
    with pytest.raises(ParamError) as e:
        expand(["token-bucket", "pyrate-memory", "semaphore"], parse_cli(items))
    assert message in str(e.value)


@pytest.mark.parametrize("item", ["token-bucket.capacity", "capacity=1", "token-bucket.capacity=", "t.2x=1"])
def test_malformed_param_is_a_usage_error(item: str) -> None:
    with pytest.raises(ParamError, match=r"expected STRATEGY\.NAME=VALUE"):
        parse_cli([item])
    with pytest.raises(ParamError, match="given twice"):
        parse_cli(["a.b=1", "a.b=2"])


def test_cli_exits_2_naming_the_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert main(["run", "--clock", "virtual", "--strategies", "pyrate-memory", "--out", str(out),
                 "--param", "pyrate-memory.bufer_ms=1"]) == 2
    assert "no parameter 'bufer_ms'" in capsys.readouterr().err
    assert main(["run", "--clock", "virtual", "--strategies", "pyrate-memory", "--out", str(out),
                 "--param", "nope.x=1"]) == 2
    assert "strategy 'nope' is not among the strategies run" in capsys.readouterr().err
    assert not out.exists()  # nothing was started


def test_every_declared_default_is_the_class_value_and_parses() -> None:
    for name in registry.names():
        cls = registry.resolve(name)
        for p in cls.params:
            assert getattr(cls, p.name) == p.default, (name, p.name)
            if p.default is not None:
                assert p.parse(p.default) == p.default
    assert {d["name"] for d in params.describe(Throttle)} == {"rate_limit", "period", "retry_interval"}


def test_leaky_bucket_limiter_runs_with_its_library_default_capacity() -> None:
    # LeakyBucketLimiter(20, capacity=10), the library's default: 10 at once, then one per 1/20 s.
    cls = configured(Leaky, {"capacity": 10})
    assert send_times(cls(Quota((Tier(20, 1.0),))), jobs=12) == [0.0] * 10 + [0.05, 0.1]
    assert send_times(Leaky(Quota((Tier(20, 1.0),))), jobs=21)[:20] == [0.0] * 20  # normalised: capacity r


def test_asyncio_throttle_with_its_default_period() -> None:
    # 5 per 2 s is 2.5/s; normalised, Throttler(1, 0.4). With the library's period of 1 s: Throttler(2, 1.0),
    # clumps of 2 every 1.01 s (the period plus one 10 ms poll). Normalised: one each 0.4 s plus its poll.
    quota = Quota((Tier(5, 2.0),))
    assert send_times(configured(Throttle, {"period": 1.0})(quota), jobs=6) == [0.0, 0.0, 1.01, 1.01, 2.02, 2.02]
    assert send_times(Throttle(quota), jobs=3) == [0.0, 0.41, 0.81]


def test_pyrate_with_its_default_buffer() -> None:
    quota = Quota((Tier(2, 1.0),))
    assert send_times(configured(PyrateMemory, {"buffer_ms": 50})(quota), jobs=3) == [0.0, 0.0, 1.051]
    assert send_times(PyrateMemory(quota), jobs=3) == [0.0, 0.0, 1.001]


def test_the_articles_bucket_takes_a_capacity_without_changing_its_code() -> None:
    cls = configured(NaiveTokenBucket, {"capacity": 3})
    assert send_times(cls(Quota((Tier(10, 1.0),))), jobs=4)[:3] == [0.0, 0.0, 0.0]


def test_a_misspelt_strategy_or_parameter_gets_a_did_you_mean_not_the_whole_list() -> None:
    with pytest.raises(ParamError) as scen:
        expand(["aiolimiter"], from_table({"tokenbucket": {"capacity": 2}}))
    assert str(scen.value) == ("params.tokenbucket.capacity: unknown strategy 'tokenbucket' (did you mean "
                               "'token-bucket', 'token-bucket-naive' or 'token-bucket-weighted'?)")
    with pytest.raises(ParamError, match=r"not among the strategies run \(token-bucket\) "
                                         r"\(did you mean 'token-bucket'\?\)"):
        expand(["token-bucket"], parse_cli(["tokenbucket.capacity=2"]))
    with pytest.raises(ParamError, match=r"has no parameter 'capacty' \(did you mean 'capacity'\?\)"):
        expand(["token-bucket"], parse_cli(["token-bucket.capacty=2"]))
