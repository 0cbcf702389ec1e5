"""Strategy-reported counters: from the strategy to results.json and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench import counters, report, results
from strategies.adaptive_headers import AdaptiveHeaders
from strategies.base import Jobs, Quota, Send, Strategy
from tests.strategies.harness import end_to_end, scenario


class _Says(Strategy):
    name = "says"
    value: ClassVar[Any] = {}

    async def run(self, jobs: Jobs, send: Send) -> None:
        async for job in jobs:
            await send(job)

    def counters(self) -> Any:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def _says(value: object) -> Strategy:
    return type("S", (_Says,), {"value": value})(Quota(()))


def test_collect_keeps_good_counters_in_name_order() -> None:
    assert counters.collect(_says({"b": 2, "a": 0})) == ({"a": 0, "b": 2}, None)
    assert counters.collect(None) == ({}, None)


@pytest.mark.parametrize("value, why", [
    ([1], "not a mapping: list"),
    ({"": 1}, "non-empty string"),
    ({"a": -1}, "'a' must be an integer >= 0, got -1"),
    ({"a": 1.5}, "'a' must be an integer >= 0, got 1.5"),
    ({"a": True}, "'a' must be an integer >= 0, got True"),
    (RuntimeError("boom"), "counters() raised RuntimeError: boom"),
])
def test_a_bad_counter_is_withheld_with_the_reason(value: object, why: str) -> None:
    got, note = counters.collect(_says(value))
    assert got == {}
    assert note is not None and note.startswith("counters withheld: ") and why in note


def test_check_names_the_run_and_the_key() -> None:
    assert counters.check({}, "runs[0]") is None
    assert counters.check({"counters": {"a": 1}}, "runs[0]") is None
    assert counters.check({"counters": {"a": "1"}}, "runs[3]") == "runs[3].counters: counter 'a' must be an integer " \
                                                                  ">= 0, got '1'"


class _Impatient(AdaptiveHeaders):
    name = "impatient"
    max_wait_s = 0.05  # every reset the mock announces (up to 1 s) is longer: each one is cut and counted


def test_capped_header_hints_reach_results_json_and_the_report(tmp_path: Path) -> None:
    sc = scenario(5, 12)
    r = end_to_end(_Impatient, sc)
    assert r.counters["capped_hints"] >= 1
    writer = results.RunWriter(tmp_path, {"clock": "virtual", "transport": "asgi", "scenario": {"name": "t"},
                                          "resolved": {}, "repeat": 1, "python": "3", "platform": "p", "git_sha": None,
                                          "created_utc": "now"})
    writer.add(r)
    writer.finish()
    doc = results.load(tmp_path)
    assert doc["runs"][0]["counters"] == r.counters
    md = report.render_markdown(doc)
    assert "## What the strategies counted" in md
    assert f"- `impatient` repeat 0: capped_hints {r.counters['capped_hints']}" in md
    assert f"capped_hints {r.counters['capped_hints']}" in report.render_html(doc)


def test_a_run_without_counters_shows_none_and_an_edited_one_is_refused(tmp_path: Path) -> None:
    r = end_to_end(AdaptiveHeaders, scenario(50, 5))
    assert r.counters == {"capped_hints": 0}
    writer = results.RunWriter(tmp_path, {"clock": "virtual", "transport": "asgi", "scenario": {"name": "t"},
                                          "resolved": {}, "repeat": 1})
    writer.add(r)
    writer.finish()
    assert "What the strategies counted" not in report.render_markdown(
        {**results.load(tmp_path), "meta": {**results.load(tmp_path)["meta"], "python": "3", "platform": "p",
                                            "git_sha": None, "created_utc": "now"}})
    p = tmp_path / "results.json"
    doc = json.loads(p.read_text())
    doc["runs"][0]["counters"] = {"capped_hints": -3}
    p.write_text(json.dumps(doc))
    with pytest.raises(results.BadRunFile, match=r"runs\[0\]\.counters: counter 'capped_hints'"):
        results.load(tmp_path)
