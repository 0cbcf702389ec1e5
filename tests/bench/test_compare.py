"""``python -m bench compare``: the statistic on hand-computed inputs, the verdicts, the refusals and
warnings, and two virtual-clock runs end to end (same code: nothing significant; doubled rate: significant)."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench import compare
from bench.cli import main
from bench.gate import GateError

# A generous server (100/s) behind a declared 10/s: a strategy paced at twice the declared rate still
# completes every job without a 429, and its throughput doubles.
SCENARIO = """
name = "compare-test"
description = "100/s enforced, 10/s declared; 30 jobs at once"
[server]
latency_ms = 10
[[server.quota]]
algorithm = "sliding-log"
limit = 100
window_s = 1.0
[declared]
quota = [{limit = 10, window_s = 1.0}]
[workload]
jobs = 30
release = "batch"
[client]
concurrency = 20
timeout_s = 30
"""
PACED = "tests.bench.compare_plugins:Paced"
DOUBLED = "tests.bench.compare_plugins:PacedDoubled"


# --------------------------------------------------------------------------------------------------
# The statistic, by hand


def test_welch_hand_computed() -> None:
    # a = 1, 2, 3 and b = 4, 5, 6: means 2 and 5, sample variances 1 and 1, n = 3 a side.
    # se² = 1/3 + 1/3 = 2/3, t = 3 / sqrt(2/3) = 3.674235; df = (2/3)² / ((1/3)²/2 + (1/3)²/2) = 4.
    # Two-sided p for |t| = 3.674235 with 4 df: 2 × (1 − F_4(3.674235)) = 0.021312 (t-table: the 0.02 two-sided
    # critical value for 4 df is 3.747, the 0.05 one 2.776, so 0.02 < p < 0.05).
    w = compare.welch([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert w.t == pytest.approx(3 / math.sqrt(2 / 3))
    assert w.df == pytest.approx(4.0)
    assert w.p == pytest.approx(0.021312, abs=1e-6)


def test_welch_unequal_variances() -> None:
    # a = 10, 12 (mean 11, s² = 2), b = 20, 20, 26 (mean 22, s² = 12): qa = 1, qb = 4, se² = 5,
    # t = 11 / sqrt(5) = 4.919350, df = 25 / (1/1 + 16/2) = 25/9 = 2.777778.
    w = compare.welch([10.0, 12.0], [20.0, 20.0, 26.0])
    assert w.t == pytest.approx(11 / math.sqrt(5))
    assert w.df == pytest.approx(25 / 9)
    assert 0.01 < w.p < 0.05  # t-table, 2 and 3 df bracket it: p(2 df) = 0.0389, p(3 df) = 0.0161


def test_welch_agrees_with_scipy() -> None:
    from scipy import stats

    a, b = [19.8, 20.1, 19.9, 20.3], [21.0, 20.6, 21.4]
    ref = stats.ttest_ind(b, a, equal_var=False)
    w = compare.welch(a, b)
    assert w.t == pytest.approx(ref.statistic) and w.p == pytest.approx(ref.pvalue)


def test_welch_without_spread() -> None:
    assert compare.welch([5.0, 5.0, 5.0], [5.0, 5.0, 5.0]) == compare.Welch(None, 4.0, 1.0)
    assert compare.welch([5.0, 5.0], [6.0, 6.0]).p == 0.0  # deterministic runs: the difference is exact


def test_welch_needs_two_values() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        compare.welch([1.0], [1.0, 2.0])


# --------------------------------------------------------------------------------------------------
# Verdicts


def test_both_tests_must_pass() -> None:
    # A consistent +1 % shift: the t-test says significant, the effect size does not.
    small = compare.judge("s", "throughput_rps", +1, [100.0, 100.1, 99.9], [101.0, 101.1, 100.9], 0.05, 0.05)
    assert small.test is not None and small.test.p < 0.05
    assert small.verdict == "not significant" and "below the minimum effect 5%" in small.why
    assert compare.judge("s", "throughput_rps", +1, [100.0, 100.1, 99.9], [101.0, 101.1, 100.9], 0.05,
                         0.005).verdict == "significant"
    # A large change with a large spread: the effect is big, the t-test says it could be noise.
    noisy = compare.judge("s", "latency_p99_ms", -1, [100.0, 300.0, 200.0], [150.0, 400.0, 260.0], 0.05, 0.05)
    assert noisy.verdict == "not significant" and "alpha" in noisy.why


def test_direction_and_zero_baseline() -> None:
    worse = compare.judge("s", "throttled", -1, [0, 0, 0], [3, 4, 3], 0.05, 0.05)
    assert (worse.verdict, worse.direction, worse.relative) == ("significant", "worse", None)
    better = compare.judge("s", "latency_p50_ms", -1, [200.0, 201.0, 199.0], [100.0, 99.0, 101.0], 0.05, 0.05)
    assert (better.verdict, better.direction) == ("significant", "better")
    assert compare.judge("s", "errors", -1, [0, 0, 0], [0, 0, 0], 0.05, 0.05).verdict == "no change"


def test_one_repeat_or_nulls_cannot_be_judged() -> None:
    one = compare.judge("s", "throughput_rps", +1, [10.0], [20.0], 0.05, 0.05)
    assert one.verdict == "cannot judge" and one.relative == pytest.approx(1.0)
    nulls = compare.judge("s", "efficiency", +1, [0.9, None, None], [0.8, 0.81, 0.79], 0.05, 0.05)
    assert nulls.verdict == "cannot judge" and nulls.nulls == (2, 0) and "2 null in A" in nulls.why


@pytest.mark.parametrize(("text", "value"), [("5%", 0.05), ("0%", 0.0), ("2.5%", 0.025)])
def test_min_effect(text: str, value: float) -> None:
    assert compare.parse_min_effect(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["5", "0.05", "-5%", "five%"])
def test_min_effect_needs_a_percentage(text: str) -> None:
    with pytest.raises(GateError, match="percentage"):
        compare.parse_min_effect(text)


# --------------------------------------------------------------------------------------------------
# Hand-built results files


def _doc(values: dict[str, list[float]], *, scenario: str = "s", limit: int = 20, **meta: Any) -> dict[str, Any]:
    runs = [{"strategy": name, "repeat": k, "status": "ok", "error": None,
             "metrics": {"throughput_rps": v, "throttled": 0, "efficiency": None}}
            for name, vs in values.items() for k, v in enumerate(vs)]
    return {"schema_version": 1, "complete": True,
            "meta": {"clock": "virtual", "transport": "asgi", "repeat": 3, "scenario": {"name": scenario},
                     "resolved": {"name": scenario, "server": {"quota": [{"limit": limit, "window_s": 1.0}]}},
                     "python": "3.11.2", "platform": "Linux-x", "cpus": 2, "packages": {"httpx": "0.28.1"}}
                    | meta,
            "runs": runs}


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps(doc))
    return path


def _run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    from contextlib import redirect_stderr, redirect_stdout

    with redirect_stdout(out), redirect_stderr(err):
        code = main(["compare", *argv])
    return code, out.getvalue(), err.getvalue()


def test_refuses_another_scenario(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", _doc({"x": [1.0, 2.0]}, scenario="steady"))
    b = _write(tmp_path / "b", _doc({"x": [1.0, 2.0]}, scenario="burst"))
    code, out, err = _run_cli(str(a), str(b))
    assert code == 2 and "cannot compare" in err and "'steady'" in err and "'burst'" in err and out == ""


def test_refuses_the_same_name_resolved_differently(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", _doc({"x": [1.0, 2.0]}, limit=20))
    b = _write(tmp_path / "b", _doc({"x": [1.0, 2.0]}, limit=40))
    code, _, err = _run_cli(str(a), str(b))
    assert code == 2 and "server.quota[0].limit" in err


def test_refuses_another_clock_and_bad_options(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", _doc({"x": [1.0, 2.0]}))
    b = _write(tmp_path / "b", _doc({"x": [1.0, 2.0]}, clock="real"))
    assert _run_cli(str(a), str(b))[0] == 2
    assert _run_cli(str(a), str(a), "--alpha", "1.5")[0] == 2
    assert _run_cli(str(a), str(a), "--metrics", "nonsense")[0] == 2
    code, _, err = _run_cli(str(a), str(tmp_path / "missing"))
    assert code == 2 and "RUN_B" in err


def test_warns_on_machine_and_package_differences(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", _doc({"x": [10.0, 10.1, 9.9]}))
    b = _write(tmp_path / "b", _doc({"x": [10.0, 10.1, 9.9]}, python="3.12.1", cpus=8,
                                    packages={"httpx": "0.27.0"}, arrivals_source="client"))
    code, out, _ = _run_cli(str(a), str(b))
    assert code == 0
    assert "WARNING: machines differ: cpus 2 in A, 8 in B; python '3.11.2' in A, '3.12.1' in B" in out
    assert "WARNING: package versions differ: httpx 0.28.1 in A, 0.27.0 in B" in out
    assert "arrivals_source 'server' in A, 'client' in B" in out


def test_doubled_rate_in_hand_built_files(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", _doc({"x": [10.0, 10.2, 9.9], "y": [20.0, 20.1, 19.8], "solo": [1.0]}))
    b = _write(tmp_path / "b", _doc({"x": [20.1, 19.8, 20.3], "y": [20.1, 19.9, 20.0], "new": [1.0]}))
    code, out, _ = _run_cli(str(a), str(b), "--json", "--metrics", "throughput_rps,throttled")
    doc = json.loads(out)
    assert code == 0 and doc["alpha"] == 0.05 and doc["min_effect"] == 0.05
    by = {(c["strategy"], c["metric"]): c for c in doc["changes"]}
    assert by["x", "throughput_rps"]["verdict"] == "significant" and by["x", "throughput_rps"]["direction"] == "better"
    assert by["y", "throughput_rps"]["verdict"] == "not significant"
    assert by["x", "throttled"]["verdict"] == "no change"
    assert doc["only_in_a"] == ["solo"] and doc["only_in_b"] == ["new"]
    # A significant fall exits 1 only when asked to.
    assert _run_cli(str(b), str(a))[0] == 0
    code, out, _ = _run_cli(str(b), str(a), "--fail-on-regression")
    assert code == 1 and "SIGNIFICANT, worse" in out


def test_one_repeat_says_significance_cannot_be_judged(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", _doc({"x": [10.0]}))
    b = _write(tmp_path / "b", _doc({"x": [20.0]}))
    code, out, _ = _run_cli(str(a), str(b), "--metrics", "throughput_rps")
    assert code == 0 and "cannot judge" in out and "significance cannot be judged for x" in out
    assert "+100.0%" in out


# --------------------------------------------------------------------------------------------------
# Virtual-clock runs end to end


def _run(tmp_path: Path, out: str, strategies: str) -> Path:
    scenario = tmp_path / "compare-test.toml"
    scenario.write_text(SCENARIO)
    parent = tmp_path / out
    assert main(["run", "--clock", "virtual", "--scenario", str(scenario), "--strategies", strategies,
                 "--repeat", "3", "--out", str(parent)]) == 0
    (run_dir,) = parent.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def paced_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("compare"), "a", f"{PACED},token-bucket")


def test_same_code_twice_reports_no_significant_change(paced_run: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    again = _run(tmp_path, "b", f"{PACED},token-bucket")
    capsys.readouterr()
    assert main(["compare", str(paced_run), str(again), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    stable = ("throughput_rps", "efficiency", "completion", "throttled", "burst_ratio", "latency_p50_ms")
    judged = [c for c in doc["changes"] if c["metric"] in stable]
    assert {c["strategy"] for c in judged} == {"paced-under-test", "token-bucket"}
    assert all(len(c["a"]) == 3 for c in judged if c["metric"] == "throughput_rps")
    assert [c for c in judged if c["verdict"] == "significant"] == []
    assert not any("machines differ" in w or "package" in w for w in doc["warnings"])


def test_doubled_rate_is_a_significant_throughput_change(paced_run: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    doubled = _run(tmp_path, "b", f"{DOUBLED},token-bucket")
    capsys.readouterr()
    assert main(["compare", str(paced_run), str(doubled), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by = {(c["strategy"], c["metric"]): c for c in doc["changes"]}
    rps = by["paced-under-test", "throughput_rps"]
    assert rps["verdict"] == "significant" and rps["direction"] == "better"
    assert 0.8 < rps["relative"] < 1.2  # about twice the rate: +100 %
    assert by["paced-under-test", "latency_p50_ms"]["verdict"] == "significant"
    # The other strategy's code did not change: no significant change in its throughput.
    assert by["token-bucket", "throughput_rps"]["verdict"] != "significant"
    # The text form names the change too.
    assert main(["compare", str(paced_run), str(doubled), "--metrics", "throughput_rps"]) == 0
    text = capsys.readouterr().out
    assert "SIGNIFICANT, better" in text and "Welch" in text


def test_a_run_against_a_copy_of_itself(paced_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(paced_run, copy)
    capsys.readouterr()
    assert main(["compare", str(paced_run), str(copy), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {c["verdict"] for c in doc["changes"]} == {"no change", "withheld"}  # withheld: CPU, in-process


def test_identical_single_values_are_no_change(tmp_path: Path) -> None:
    same = compare.judge("s", "throttled", -1, [3.0], [3.0], 0.05, 0.05)
    assert same.verdict == "no change" and same.why == "the same value, 3, in every repeat of A and B"
    a = _write(tmp_path / "a", _doc({"x": [10.0]}))
    b = _write(tmp_path / "b", _doc({"x": [10.0]}))
    code, out, _ = _run_cli(str(a), str(b), "--metrics", "throughput_rps")
    assert code == 0 and "no change" in out and "cannot judge" not in out


def test_a_matrix_directory_names_its_scenario_subdirectories(tmp_path: Path) -> None:
    mx = tmp_path / "mx"
    _write(mx / "steady", _doc({"x": [10.0]}))
    _write(mx / "outage", _doc({"x": [10.0]}))
    (mx / "matrix.json").write_text('{"schema": 1, "kind": "matrix"}\n')
    code, _, err = _run_cli(str(mx), str(mx / "steady"))
    assert code == 2
    assert f"RUN_A {mx} is a matrix directory" in err and "a subdirectory: outage, steady" in err
