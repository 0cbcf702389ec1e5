"""The gate (``bench check``): exit 0 when every rule holds, 1 on a breach (named: strategy, metric, value,
bound), 2 on bad input (naming the key or value). Each test writes a small fixed results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import gate, results
from bench.cli import main

TIERS = [{"algorithm": "sliding-log", "limit": 20, "window_s": 1.0}]


def metrics(**over: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "requests": 200, "attempts": 200, "succeeded": 200, "throttled": 0, "errors": 0, "duration_s": 9.9,
        "throughput_rps": 20.2, "latency_p50_ms": 4985.0, "latency_p90_ms": 8900.0, "latency_p99_ms": 9860.0,
        "latency_max_ms": 9960.0, "queue_wait_p50_ms": 4975.0, "queue_wait_p99_ms": 9850.0,
        "service_p50_ms": 10.0, "service_p99_ms": 10.0, "peak_window_count": [20], "burst_ratio": 1.0,
        "first_window_count": [20], "completion": 1.0, "efficiency": 0.9, "peak_concurrency": 1,
        "cpu_s_per_1k": None,
    }
    m.update(over)
    return m


def write_run(path: Path, runs: list[tuple[str, dict[str, Any]]], *, scenario: str = "default",
              limit: int = 20, clock: str = "virtual", complete: bool = True,
              status: dict[tuple[str, int], str] | None = None) -> Path:
    """A run directory holding only results.json: ``runs`` is (strategy, metrics) in order; repeats counted."""
    path.mkdir(parents=True)
    seen: dict[str, int] = {}
    entries = []
    for name, m in runs:
        k = seen.get(name, 0)
        seen[name] = k + 1
        st = (status or {}).get((name, k), "ok")
        entries.append({"strategy": name, "repeat": k, "status": st,
                        "error": None if st == "ok" else "did not finish within 30 s", "wall_s": 0.1, "metrics": m})
    quota = [dict(TIERS[0], limit=limit)]
    doc = {"schema_version": results.SCHEMA_VERSION, "complete": complete,
           "meta": {"clock": clock, "transport": "asgi", "repeat": 1, "scenario": {"name": scenario},
                    "resolved": {"name": scenario, "server": {"quota": quota}}},
           "runs": entries}
    (path / "results.json").write_text(json.dumps(doc))
    return path


def thresholds(tmp_path: Path, text: str, name: str = "t.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


SMOOTH = metrics()
BURSTY = metrics(succeeded=178, throttled=22, completion=0.89, efficiency=None, burst_ratio=1.95,
                 peak_window_count=[39], first_window_count=[39])

RULES = """
scenario = "default"
[all]
thresholds = ["errors == 0"]
[strategies.token-bucket]
thresholds = ["burst_ratio <= 1.0", "throttled == 0", "efficiency >= 0.85"]
[strategies.aiolimiter]
thresholds = ["burst_ratio >= 1.5", "burst_ratio <= 2.1", "throttled > 0"]
"""


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


# -- exit 0 / 1 ------------------------------------------------------------------------------------------


def test_all_rules_hold_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", [("token-bucket", SMOOTH), ("aiolimiter", BURSTY)])
    code, out, _ = check(capsys, str(run), "--thresholds", str(thresholds(tmp_path, RULES)))
    assert code == 0
    assert "BREACH" not in out
    assert "check: all rules hold — 8 checks on 2 strategies" in out


def test_a_breach_exits_1_and_names_strategy_metric_value_and_bound(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The smooth limiter turned bursty: three of its rules break; the bursty one still holds.
    run = write_run(tmp_path / "run", [("token-bucket", BURSTY), ("aiolimiter", BURSTY)])
    code, out, _ = check(capsys, str(run), "--thresholds", str(thresholds(tmp_path, RULES)))
    assert code == 1
    breaches = [line for line in out.splitlines() if line.startswith("BREACH")]
    assert breaches[0] == (f"BREACH token-bucket (repeat 0): burst_ratio = 1.95, bound <= 1.0  "
                           f"[{tmp_path / 't.toml'}: strategies.token-bucket.thresholds[0]]")
    assert breaches[1].startswith("BREACH token-bucket (repeat 0): throttled = 22, bound == 0")
    # A null metric is a breach with its reason, never a silent pass.
    assert breaches[2].startswith("BREACH token-bucket (repeat 0): efficiency = null, bound >= 0.85 — withheld: "
                                  "efficiency is defined only when every job succeeded (completion 0.89)")
    assert len(breaches) == 3
    assert "check: 3 breach(es)" in out


def test_json_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", [("token-bucket", metrics(burst_ratio=1.05)), ("aiolimiter", BURSTY)])
    code, out, _ = check(capsys, str(run), "--thresholds", str(thresholds(tmp_path, RULES)), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False and doc["exit_code"] == 1
    assert doc["breaches"] == [{"strategy": "token-bucket", "repeat": 0, "metric": "burst_ratio", "value": 1.05,
                                "bound": "<= 1.0", "rule": "burst_ratio <= 1.0",
                                "where": f"{tmp_path / 't.toml'}: strategies.token-bucket.thresholds[0]",
                                "ok": False, "reason": None}]
    assert len(doc["checks"]) == 8 and sum(c["ok"] for c in doc["checks"]) == 7


def test_every_repeat_must_hold_by_default_and_median_is_a_choice(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # pyrate-sqlite style: 0, 0, 2 × 429 across three repeats.
    runs = [("x", metrics(throttled=0)), ("x", metrics(throttled=0)), ("x", metrics(throttled=2))]
    run = write_run(tmp_path / "run", runs)
    code, out, _ = check(capsys, str(run), "--thresholds",
                         str(thresholds(tmp_path, '[all]\nthresholds = ["throttled == 0"]\n')))
    assert code == 1
    assert "BREACH x (repeat 2): throttled = 2, bound == 0" in out
    median = thresholds(tmp_path, 'repeats = "median"\n[all]\nthresholds = ["throttled == 0"]\n', "m.toml")
    code, out, _ = check(capsys, str(run), "--thresholds", str(median))
    assert code == 0 and "repeats judged: median" in out
    # ...and the median of [0, 2, 2] breaks it, reported as the median.
    run2 = write_run(tmp_path / "run2", [("x", metrics(throttled=2)), ("x", metrics(throttled=0)),
                                         ("x", metrics(throttled=2))])
    code, out, _ = check(capsys, str(run2), "--thresholds", str(median))
    assert code == 1 and "BREACH x (median of repeats): throttled = 2, bound == 0" in out


def test_a_strategy_named_but_absent_from_the_run_is_a_breach(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", [("token-bucket", SMOOTH)])
    code, out, _ = check(capsys, str(run), "--thresholds", str(thresholds(tmp_path, RULES)))
    assert code == 1
    assert "BREACH aiolimiter: (presence) = absent, bound in the run — named in the thresholds but not in the run " \
           "(ran: token-bucket)" in out


def test_a_failed_run_and_an_interrupted_run_are_breaches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", [("token-bucket", SMOOTH), ("aiolimiter", BURSTY)], complete=False,
                    status={("token-bucket", 0): "timeout"})
    code, out, _ = check(capsys, str(run), "--thresholds", str(thresholds(tmp_path, RULES)))
    assert code == 1
    assert "BREACH (run): complete = false, bound == true — the run was interrupted (INCOMPLETE)" in out
    assert 'BREACH token-bucket (repeat 0): status = timeout, bound == "ok" — did not finish within 30 s' in out


def test_a_failed_run_of_a_strategy_no_rule_covers_is_still_a_breach(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Rules only for unlimited; the other strategy raised: a non-ok run is a breach whatever the rules.
    spec = thresholds(tmp_path, '[strategies.unlimited]\nthresholds = ["errors == 0"]\n')
    run = write_run(tmp_path / "run", [("unlimited", SMOOTH), ("raises", SMOOTH)],
                    status={("raises", 0): "failed"})
    code, out, _ = check(capsys, str(run), "--thresholds", str(spec))
    assert code == 1
    assert 'BREACH raises (repeat 0): status = failed, bound == "ok"' in out


def test_a_thresholds_file_without_any_rule_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", [("x", SMOOTH)])
    for text in ("", 'scenario = "default"\n[all]\nthresholds = []\n'):
        code, out, err = check(capsys, str(run), "--thresholds", str(thresholds(tmp_path, text)))
        assert code == 2 and out == ""
        assert "no rules at all" in err


def test_per_tier_metric_takes_an_index_and_a_strategy_rule_replaces_the_general_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = thresholds(tmp_path, """
[all]
thresholds = ["peak_window_count[0] <= 20", "burst_ratio <= 1.0"]
[strategies.aiolimiter]
thresholds = ["burst_ratio <= 2.0"]
""")
    run = write_run(tmp_path / "run", [("token-bucket", SMOOTH), ("aiolimiter", BURSTY)])
    code, out, _ = check(capsys, str(run), "--thresholds", str(spec))
    assert code == 1
    # aiolimiter's own burst rule replaced [all]'s; the per-tier rule still applies to it.
    assert [line.split("  [")[0] for line in out.splitlines() if line.startswith("BREACH")] == [
        "BREACH aiolimiter (repeat 0): peak_window_count[0] = 39, bound <= 20"]


def test_strategies_no_rule_covers_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = thresholds(tmp_path, '[strategies.token-bucket]\nthresholds = ["throttled == 0"]\n')
    run = write_run(tmp_path / "run", [("token-bucket", SMOOTH), ("other", SMOOTH)])
    code, out, _ = check(capsys, str(run), "--thresholds", str(spec))
    assert code == 0 and "note: no rule covers other" in out


# -- baseline --------------------------------------------------------------------------------------------

BASE_RULES = """
[all]
baseline = ["efficiency:-5%", "throttled:+0", "latency_p99_ms:+100"]
"""


def test_baseline_regressions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_run(tmp_path / "base", [("x", metrics(efficiency=0.9, throttled=1, latency_p99_ms=9800.0))])
    same = write_run(tmp_path / "same", [("x", metrics(efficiency=0.86, throttled=1, latency_p99_ms=9900.0))])
    worse = write_run(tmp_path / "worse", [("x", metrics(efficiency=0.85, throttled=2, latency_p99_ms=9901.0))])
    spec = str(thresholds(tmp_path, BASE_RULES))
    code, out, _ = check(capsys, str(same), "--thresholds", spec, "--baseline", str(base))
    assert code == 0, out
    code, out, _ = check(capsys, str(worse), "--thresholds", spec, "--baseline", str(base))
    assert code == 1
    breaches = [line.split("  [")[0] for line in out.splitlines() if line.startswith("BREACH")]
    assert breaches == [
        "BREACH x (repeat 0): efficiency = 0.85, bound >= 0.855 (baseline 0.9, efficiency:-5%)",
        "BREACH x (repeat 0): throttled = 2, bound <= 1 (baseline 1, throttled:+0)",
        "BREACH x (repeat 0): latency_p99_ms = 9901, bound <= 9900 (baseline 9800, latency_p99_ms:+100)",
    ]
    # Without --baseline the baseline rules are not silently "passed": the output says they were not checked.
    code, out, _ = check(capsys, str(worse), "--thresholds", spec)
    assert code == 0 and "note: baseline rules not checked: no --baseline given" in out


def test_baseline_of_another_scenario_or_clock_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", [("x", SMOOTH)])
    spec = str(thresholds(tmp_path, BASE_RULES))
    other = write_run(tmp_path / "other", [("x", SMOOTH)], scenario="paced-100")
    code, _, err = check(capsys, str(run), "--thresholds", spec, "--baseline", str(other))
    assert code == 2 and "baseline refused: it ran scenario 'paced-100', the run is 'default'" in err
    changed = write_run(tmp_path / "changed", [("x", SMOOTH)], limit=10)
    code, _, err = check(capsys, str(run), "--thresholds", spec, "--baseline", str(changed))
    assert code == 2
    assert "baseline refused: scenario 'default' differs from the baseline's at server.quota[0].limit: " \
           "20 in the run, 10 in the baseline" in err
    real = write_run(tmp_path / "real", [("x", SMOOTH)], clock="real")
    code, _, err = check(capsys, str(run), "--thresholds", spec, "--baseline", str(real))
    assert code == 2 and "it ran on the 'real' clock" in err
    old = write_run(tmp_path / "old", [("x", SMOOTH)])
    doc = json.loads((old / "results.json").read_text())
    doc["schema_version"] = 0
    (old / "results.json").write_text(json.dumps(doc))
    code, _, err = check(capsys, str(run), "--thresholds", spec, "--baseline", str(old))
    assert code == 2 and "--baseline" in err and "schema_version 0 is not 1" in err


def test_baseline_without_the_strategy_or_with_a_null_is_a_breach(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_run(tmp_path / "base", [("x", metrics(efficiency=None, completion=0.5))])
    run = write_run(tmp_path / "run", [("x", SMOOTH), ("y", SMOOTH)])
    code, out, _ = check(capsys, str(run), "--thresholds", str(thresholds(tmp_path, BASE_RULES)),
                         "--baseline", str(base))
    assert code == 1
    assert "BREACH x: efficiency = null, bound >= baseline — the baseline's value is null (repeat 0: withheld: " \
           "efficiency is defined only when every job succeeded (completion 0.5))" in out
    assert "BREACH y: throttled = null, bound <= baseline — absent from the baseline run" in out


# -- exit 2 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ('[all]\nthresholds = ["burts_ratio <= 1.0"]\n', "all.thresholds[0] = 'burts_ratio <= 1.0': unknown metric "
                                                     "'burts_ratio'"),
    ('[all]\nthresholds = ["burst_ratio =< 1.0"]\n', "all.thresholds[0] = 'burst_ratio =< 1.0': not a threshold"),
    ('[all]\nthresholds = ["throttled <= many"]\n', "not a threshold"),
    ('[all]\nthresholds = "throttled == 0"\n', "all.thresholds: must be an array of strings"),
    ('[all]\nbaseline = ["efficiency:5%"]\n', "'efficiency:5%': not a baseline rule; write METRIC:+N, METRIC:-N, "
                                              "METRIC:+N% or METRIC:-N%, e.g. \"efficiency:-5%\" or "
                                              "\"throttled:+0\" (give a sign"),
    ('[all]\nthreshold = ["throttled == 0"]\n', "all.threshold: unknown key (known: thresholds, baseline, repeats)"),
    ('limits = 3\n', "limits: unknown key (known: scenario, clock, repeats, all, strategies)"),
    ('clock = "wall"\n', "clock: must be one of 'real', 'virtual', got 'wall'"),
    ('clock = "real"\n[all]\nthresholds = ["errors == 0"]\n', "clock = 'real', but the run used the 'virtual' "
                                                                "clock"),
    ('repeats = "mean"\n', "repeats: must be one of 'every', 'median', got 'mean'"),
    ('[all]\nthresholds = ["peak_window_count <= 20"]\n', "peak_window_count has one count per quota tier; "
                                                          "name the tier, e.g. peak_window_count[0]"),
    ('[all]\nthresholds = ["peak_window_count[1] <= 20"]\n', "tier index 1 is out of range: the run's scenario "
                                                             "has 1 quota tier(s)"),
    ('[all]\nthresholds = ["burst_ratio < true"]\n', "true/false can only be compared with == or !="),
    ('scenario = "paced-100"\n[all]\nthresholds = ["errors == 0"]\n', "scenario = 'paced-100', but the run is of "
                                                                      "scenario 'default'"),
    ('[all\nthresholds = []\n', "not valid TOML"),
])
def test_bad_thresholds_exit_2_naming_the_key_or_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    run = write_run(tmp_path / "run", [("x", SMOOTH)])
    code, out, err = check(capsys, str(run), "--thresholds", str(thresholds(tmp_path, text)))
    assert code == 2
    assert message in err
    assert out == ""


def test_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", [("x", SMOOTH)])
    spec = thresholds(tmp_path, '[all]\nthresholds = ["errors == 0"]\n')
    code, _, err = check(capsys, str(run), "--thresholds", str(tmp_path / "nope.toml"))
    assert code == 2 and f"--thresholds {tmp_path / 'nope.toml'}: no such file" in err
    code, _, err = check(capsys, str(tmp_path / "norun"), "--thresholds", str(spec))
    assert code == 2 and "RUN_DIR" in err and "no results.json" in err
    code, out, err = check(capsys, str(tmp_path / "norun"), "--thresholds", str(spec), "--json")
    assert code == 2 and json.loads(out)["exit_code"] == 2 and json.loads(out)["error"] in err
    code, _, err = check(capsys, str(run), "--thresholds", str(spec), "--baseline", str(tmp_path / "nobase"))
    assert code == 2 and "--baseline" in err and "no results.json" in err


def test_metrics_newer_than_this_version_are_accepted_by_name(tmp_path: Path) -> None:
    # A results.json from a newer ratebench may carry metrics this one does not define: the name is checked
    # against the run itself, not only against bench.metrics.
    run = write_run(tmp_path / "run", [("x", metrics(compliant=True))])
    spec = gate.load_spec(thresholds(tmp_path, '[all]\nthresholds = ["compliant == true"]\n'))
    outcome = gate.evaluate(results.load(run), spec)
    assert [(c.metric, c.value, c.ok) for c in outcome.checks] == [("compliant", True, True)]


def test_rule_parsing_by_hand() -> None:
    t = gate.parse_threshold(" latency_p99_ms<1500 ", "w")
    assert (t.metric, t.index, t.op, t.bound) == ("latency_p99_ms", None, "<", 1500)
    assert t.holds(1499.9) and not t.holds(1500)
    r = gate.parse_regression("efficiency:-5%", "w")
    assert (r.sign, r.amount, r.percent) == (-1, 5, True)
    assert r.bound(0.8) == pytest.approx(0.76) and r.holds(0.76, 0.8) and not r.holds(0.75, 0.8)
    r = gate.parse_regression("throttled:+0", "w")
    assert r.bound(0) == 0 and r.holds(0, 0) and not r.holds(1, 0)
    r = gate.parse_regression("peak_window_count[0]:+2", "w")
    assert (r.index, r.bound(20)) == (0, 22)


# -- the GitHub Actions example (examples/github-actions) ---------------------------------------------------


def test_the_github_actions_example_gates_the_custom_strategy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[2]
    workflow = (root / "examples" / "github-actions" / "ratebench-gate.yml").read_text()
    # The workflow's two commands, as this test runs them (a user's strategy loads by import path).
    assert 'python -m bench run --clock virtual --scenario "$SCENARIO" --strategies "$STRATEGY"' in workflow
    assert "python -m bench check ratebench-results/*/ --thresholds .github/ratebench/thresholds.toml" in workflow
    assert 'STRATEGY: "my_limiter:MyLimiter"' in workflow and 'SCENARIO: "steady"' in workflow
    monkeypatch.syspath_prepend(str(root / "examples" / "custom_strategy"))
    out = tmp_path / "ratebench-results"
    assert main(["run", "--clock", "virtual", "--scenario", "steady", "--strategies", "my_limiter:MyLimiter",
                 "--out", str(out)]) == 0
    (run_dir,) = out.iterdir()
    capsys.readouterr()
    spec = root / "examples" / "github-actions" / "thresholds.toml"
    code, text, _ = check(capsys, str(run_dir), "--thresholds", str(spec))
    assert code == 0, text
    assert "check: all rules hold — 5 checks on 1 strategies" in text
    # Its baseline rules hold against itself, and the strategy made bursty breaks the thresholds.
    code, text, _ = check(capsys, str(run_dir), "--thresholds", str(spec), "--baseline", str(run_dir))
    assert code == 0, text
    doc = json.loads((run_dir / "results.json").read_text())
    doc["runs"][0]["metrics"].update(burst_ratio=1.95, throttled=22)
    (run_dir / "results.json").write_text(json.dumps(doc))
    code, text, _ = check(capsys, str(run_dir), "--thresholds", str(spec))
    assert code == 1 and "BREACH my-limiter (repeat 0): burst_ratio = 1.95, bound <= 1.0" in text


# -- the committed thresholds of make gate (tests/gate/thresholds) -------------------------------------------


def test_the_committed_thresholds_catch_the_corrected_bucket_made_bursty(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # The regression the gate exists for: someone "simplifies" the corrected bucket back to capacity r.
    from strategies.token_bucket import CorrectedTokenBucket

    root = Path(__file__).resolve().parents[2]
    monkeypatch.setattr(CorrectedTokenBucket, "capacity", 20.0)
    out = tmp_path / "runs"
    gate_scenario = str(root / "tests/gate/scenarios/default.toml")  # what `make gate` runs
    assert main(["run", "--clock", "virtual", "--strategies", "token-bucket", "--scenario", gate_scenario,
                 "--out", str(out)]) == 0
    (run_dir,) = out.iterdir()
    capsys.readouterr()
    code, text, _ = check(capsys, str(run_dir), "--thresholds", str(root / "tests/gate/thresholds/default.toml"))
    assert code == 1
    mine = [line.split("  [")[0] for line in text.splitlines() if line.startswith("BREACH token-bucket ")]
    # (19 × 429 and 90.5 % done on the exact-schedule clock; the metric names, not the figures, are the point.)
    assert [line.split(": ")[1].split(" = ")[0] for line in mine] == [
        "burst_ratio", "throttled", "completion", "efficiency"]
    assert mine[0].startswith("BREACH token-bucket (repeat 0): burst_ratio = 1.9")
    assert mine[3].startswith("BREACH token-bucket (repeat 0): efficiency = null, bound >= 0.85 — withheld: "
                              "efficiency is defined only when every job succeeded")


def test_repeats_can_be_chosen_per_strategy(tmp_path: Path) -> None:
    spec = gate.load_spec(thresholds(tmp_path, """
[all]
thresholds = ["latency_p99_ms < 1000"]
[strategies.noisy]
repeats = "median"
"""))
    runs = [(name, metrics(latency_p99_ms=ms)) for name in ("noisy", "strict") for ms in (900.0, 1200.0, 950.0)]
    outcome = gate.evaluate(results.load(write_run(tmp_path / "run", runs)), spec)
    # noisy: median 950 holds; strict: its second repeat (1200 ms) breaks the rule.
    assert [(c.strategy, c.repeat, c.value, c.ok) for c in outcome.checks] == [
        ("noisy", "median", 950.0, True),
        ("strict", 0, 900.0, True), ("strict", 1, 1200.0, False), ("strict", 2, 950.0, True)]
