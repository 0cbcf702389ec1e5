"""Fidelity: the agreement rule, the verdict lookup, the report's marking, and one real end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import fidelity, report
from bench.fidelity import Verdict, agree, not_predictive


def test_agreement_rule() -> None:
    # Same side of 1.0 and 429s within max(3, 25 % of real).
    assert agree(0, 3, 1.0, 1.0) == (True, "")
    assert agree(0, 4, 1.0, 1.0)[0] is False
    assert agree(20, 15, 1.5, 1.2) == (True, "")  # allowed ±5
    assert agree(20, 14, 1.5, 1.2)[0] is False
    ok, why = agree(0, 0, 1.0, 1.05)
    assert not ok and "other side of 1.0" in why
    assert agree(None, 0, 1.0, 1.0) == (False, "a figure is missing (a run failed or its server log was incomplete)")


DOC: dict[str, Any] = {"version": 1, "scenarios": {
    "default": {"a": {"agree": True, "reason": ""}, "b": {"agree": False, "reason": "429s 0 real vs 9 virtual"}},
    "other": {"a": {"agree": False, "reason": "burst"}, "b": {"agree": True, "reason": ""}},
}}


def test_not_predictive_per_scenario_and_for_unmeasured_ones() -> None:
    assert not_predictive("default", DOC) == {"b": "disagreed with real runs: 429s 0 real vs 9 virtual"}
    # A scenario nobody measured: every strategy that disagreed somewhere, saying where.
    unknown = not_predictive("mine", DOC)
    assert set(unknown) == {"a", "b"} and "in scenario 'other'" in unknown["a"]
    assert not_predictive("default", {}) == {}


def test_shipped_verdicts_are_readable() -> None:
    doc = fidelity.load_verdicts()
    assert doc["version"] == fidelity.DATA_VERSION and set(doc["scenarios"]) <= set(fidelity.SCENARIOS)


def run(strategy: str, throttled: int) -> dict[str, Any]:
    return {"strategy": strategy, "repeat": 0, "status": "ok", "error": None, "wall_s": 0.1,
            "metrics": {"completion": 1.0, "throttled": throttled, "burst_ratio": 1.0}}


def doc(profile: str) -> dict[str, Any]:
    return {"complete": True, "runs": [run("a", 0), run("b", 9)],
            "meta": {"clock": "virtual", "transport": "asgi", "repeat": 1, "python": "3.11", "platform": "x",
                     "git_sha": None, "created_utc": "now", "scenario": {"name": "default"},
                     "netmodel": {"profile": profile if profile == "none" else {"name": profile}}}}


def test_report_marks_not_predictive_virtual_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fidelity, "load_verdicts", lambda path=None: DOC)
    d = doc("default")
    md = report.render_markdown(d)
    assert "| b † |" in md and "| a |" in md
    assert "not predictive of a real run" in md and "`b`: disagreed with real runs: 429s 0 real vs 9 virtual" in md
    text = report.text_table(report.summarise(d["runs"], d["meta"]))
    assert "b †" in text and "not predictive" in text
    assert "not predictive" in report.render_html(d)
    # A real run is never marked; a schedule-only virtual run says so once, for the whole table.
    real = {**d, "meta": {**d["meta"], "clock": "real"}}
    assert "†" not in report.render_markdown(real)
    schedule = report.render_markdown(doc("none"))
    assert "schedule only" in schedule and "†" not in schedule


def test_render_table() -> None:
    md = fidelity.render({"default": [Verdict("a", 16, 14, 1.35, 1.2, True, ""),
                                      Verdict("b", 0, 9, 1.0, 1.1, False, "why")]},
                         {"repeat": 3, "profile": "default", "created_utc": "t", "wall_s": 1.0, "python": "3.11",
                          "platform": "p", "load_avg_1m": 0.1, "profile_sha256": "abc", "profile_created_utc": "t",
                          "agreeing": 1, "total": 2})
    assert "| a | 16.0 | 14.0 | 1.35 | 1.20 | yes |" in md
    assert "| b | 0.0 | 9.0 | 1.00 | 1.10 | **no**: why |" in md


@pytest.mark.realserver
def test_fidelity_end_to_end(tmp_path: Path) -> None:
    """One real and one virtual run of a fast strategy: the table, the verdicts and the run directories."""
    out_doc, data = tmp_path / "fidelity.md", tmp_path / "fidelity.json"
    assert fidelity.main(["--strategies", "unlimited", "--scenarios", "token-bucket-burst", "--repeat", "1",
                          "--doc", str(out_doc), "--data", str(data), "--out", str(tmp_path / "runs")]) == 0
    v = json.loads(data.read_text())["scenarios"]["token-bucket-burst"]["unlimited"]
    # Unlimited sends all 45 at once against a bucket of 20 refilled at 10/s: at most 25 rejected, in
    # either clock (fewer when arrivals spread over more than 0.1 s).
    r429, v429 = v["real"]["throttled"], v["virtual"]["throttled"]
    assert 0 < r429 <= 25 and 0 < v429 <= 25
    assert (v["agree"], v["reason"]) == agree(r429, v429, v["real"]["burst_ratio"], v["virtual"]["burst_ratio"])
    assert f"| unlimited | {r429:.1f} | {v429:.1f} |" in out_doc.read_text()
    (parent,) = (tmp_path / "runs").iterdir()
    assert len(list(parent.iterdir())) == 2  # a real and a virtual run directory


def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert fidelity.main(["--strategies", "nope"]) == 2
    assert fidelity.main(["--scenarios", "nope"]) == 2
    assert fidelity.main(["--profile", "nope"]) == 2
    assert "unknown profile" in capsys.readouterr().err
