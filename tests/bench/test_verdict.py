"""The verdict: best among qualifying runs, ties within the repeats' range, reasons, robust choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import report, results, verdict
from bench.cli import main
from bench.repeats import Spread
from bench.verdict import Standing, Verdict

TIER = [{"limit": 10, "window_s": 1.0}]


def row(name: str, eff: float | None, *, compliant: bool = True, **extra: Any) -> dict[str, Any]:
    return {"strategy": name, "compliant": compliant, "efficiency": eff, "status": "ok", "completion": 1.0,
            "burst_ratio": 1.0, "first_window_count": [10], "peak_window_count": [10], "policy_rejected": 0,
            "throttled": 0, "errors": 0, "attempts": 20, "requests": 20, **extra}


def test_best_is_the_most_efficient_qualifying_run_and_the_rest_are_explained() -> None:
    rows = [row("fast-but-over", 0.95, compliant=False, policy_rejected=7, throttled=7, burst_ratio=2.0,
                first_window_count=[20], peak_window_count=[20], attempts=27),
            row("paced", 0.60), row("bursty", 0.80, burst_ratio=1.9, first_window_count=[19], peak_window_count=[19]),
            row("gave-up", None, compliant=False, completion=0.5, throttled=10)]
    v = verdict.rank("tb", rows, tiers=TIER)
    assert v.best == ("bursty",)
    assert [(s.strategy, s.place) for s in v.standings] == [
        ("bursty", 1), ("paced", 2), ("fast-but-over", None), ("gave-up", None)]
    why = {s.strategy: s.reason for s in v.standings}
    assert "19 arrivals in the first 1 s window, over L = 10 per 1 s" in why["bursty"]
    assert "without a single rejection" in why["bursty"]
    assert "0.60 against 0.80" in why["paced"] and "burst allowance unused" in why["paced"]
    assert "rejects 7 of its arrivals and retries them" in why["fast-but-over"]
    assert "20 arrivals in the first 1 s window" in why["fast-but-over"] and "bursts at start" in why["fast-but-over"]
    assert "finished only 50% of the jobs" in why["gave-up"]
    assert v.headline() == "tb: best — bursty (efficiency 0.80)"


def test_differences_within_the_repeats_range_are_ties() -> None:
    rows = [row("a", 0.80), row("b", 0.78), row("c", 0.70)]
    # a's repeats span 0.76–0.82: b's median (0.78) is within that range of a's (0.80); c is not.
    per = {"a": [{"efficiency": e} for e in (0.76, 0.80, 0.82)], "b": [{"efficiency": e} for e in (0.77, 0.78, 0.79)],
           "c": [{"efficiency": e} for e in (0.69, 0.70, 0.71)]}
    v = verdict.rank("s", rows, per)
    assert v.best == ("a", "b")
    assert [(s.strategy, s.place, s.tied_with) for s in v.standings] == [
        ("a", 1, ("b",)), ("b", 1, ("a",)), ("c", 3, ())]
    assert (v.standings[0].low, v.standings[0].high) == (0.76, 0.82)
    # One repeat each: no range, so only the 1 % precision floor ties (0.80 vs 0.795: tied; vs 0.78: not).
    v1 = verdict.rank("s", [row("a", 0.80), row("b", 0.795), row("c", 0.78)])
    assert v1.best == ("a", "b") and v1.standings[2].place == 3


def test_none_qualifies_says_why() -> None:
    v = verdict.rank("under", [row("x", 0.9, compliant=False, policy_rejected=3),
                               row("y", None, compliant=False, completion=0.8)])
    assert v.best == ()
    assert v.why_none == "1 of 2 had arrivals the API's policy rejects; 1 of 2 did not finish every job"
    assert v.headline().startswith("under: no strategy qualifies — ")


def test_without_efficiency_throughput_ranks_and_is_named() -> None:
    v = verdict.rank("neighbour", [row("a", None, throughput_rps=9.0), row("b", None, throughput_rps=12.0)])
    assert v.metric == "throughput_rps" and v.best == ("b",)
    assert v.headline() == "neighbour: best — b (throughput 12.0/s)"


def vd(scenario: str, fam: str, scores: dict[str, float | None], metric: str = "efficiency") -> Verdict:
    """A verdict whose qualifying strategies have these scores (None = does not qualify)."""
    good = sorted(((n, s) for n, s in scores.items() if s is not None), key=lambda x: -x[1])
    st = [Standing(n, i + 1, (), True, s, s, s, "") for i, (n, s) in enumerate(good)]
    st += [Standing(n, None, (), False, None, None, None, "") for n, s in scores.items() if s is None]
    return Verdict(scenario, fam, metric, tuple(n for n, _ in good[:1]), None, tuple(st))


def test_robust_choice_is_compliant_everywhere_with_the_best_worst_case() -> None:
    vs = [vd("steady", "sliding window", {"a": 0.99, "b": 0.95, "c": 1.0}),
          vd("tb", "token bucket", {"a": 0.57, "b": 0.71, "c": None}),
          vd("slow", "slow server", {"a": 0.90, "b": 0.60, "c": 0.9})]
    m = verdict.across(vs)
    # c is fastest twice but not compliant in tb; a's worst is 0.57, b's 0.60: b is the robust choice.
    assert m.robust.choice == ("b",) and m.robust.worst == 0.6
    assert "worst-case efficiency 0.60 (in slow)" in m.robust.why and "next: a (worst case 0.57)" in m.robust.why
    assert m.families["token bucket"].choice == ("b",)
    assert m.families["sliding window"].choice == ("c",)


def test_no_robust_choice_names_the_closest() -> None:
    m = verdict.across([vd("x", "f", {"a": 0.9, "b": None}), vd("y", "f", {"a": None, "b": 0.8}),
                        vd("z", "g", {"a": 0.7, "b": None})])
    assert m.robust.choice == ()
    assert m.robust.why == "no strategy is compliant and complete in all 3; closest: a (2 of 3; not in y)"


def test_a_median_range_is_shown_and_an_unstable_one_flagged() -> None:
    runs = [{"strategy": "s", "repeat": k, "status": "ok", "error": None,
             "metrics": {"completion": 1.0, "throttled": t, "efficiency": e, "burst_ratio": 1.0, "policy_rejected": 0}}
            for k, (t, e) in enumerate([(0, 0.90), (0, 0.91), (3, 0.92)])]
    (r,) = report.summarise(runs)
    assert r["spread"]["efficiency"] == Spread(0.91, 0.90, 0.92, 3)
    r["rank"] = "1"
    cells = dict(zip(report._headers(), report._cells(r), strict=True))
    assert cells["effic."] == "0.91 [0.90–0.92]"  # range 0.02 < 10 % of 0.91: shown, not flagged
    assert cells["429s"] == f"0 [0–3] {report.UNSTABLE}"  # 0, 0, 3 × 429: the repeats disagree
    assert report.unstable([r]) == [("s", "429s")]


def test_a_token_bucket_burst_with_no_429_ranks_compliant_end_to_end(tmp_path: Path) -> None:
    # The issue's case: on token-bucket-burst (10/s, burst 20) aiolimiter's AsyncLimiter(10, 1) sends 19 in
    # the first second (sliding-window burst 1.9) and gets no 429: compliant by the API's rule, and best.
    assert main(["run", "--scenario", "token-bucket-burst", "--strategies", "aiolimiter,token-bucket,retry-backoff",
                 "--clock", "virtual", "--out", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    doc = results.load(run_dir)
    v, rows = report.ranked(doc)
    by = {r["strategy"]: r for r in rows}
    assert by["aiolimiter"]["throttled"] == 0 and by["aiolimiter"]["policy_rejected"] == 0
    assert by["aiolimiter"]["burst_ratio"] > 1.0 and by["aiolimiter"]["compliant"]
    assert by["retry-backoff"]["policy_rejected"] > 0 and not by["retry-backoff"]["compliant"]
    assert v.best == ("aiolimiter",)
    md = (run_dir / "report.md").read_text()
    assert md.index("## Verdict") < md.index("| # | strategy") and "best — aiolimiter" in md
    assert "best — aiolimiter" in (run_dir / "report.html").read_text()


def test_a_strategy_whose_virtual_figures_are_not_predictive_says_so() -> None:
    v = verdict.rank("s", [row("a", 0.9, not_predictive="429s 5 real vs 12 virtual")])
    assert v.standings[0].reason.endswith("Caveat: its virtual figures are not predictive of a real run "
                                          "(429s 5 real vs 12 virtual; docs/fidelity.md).")


def test_a_skipped_strategy_says_skipped_and_is_not_counted_as_unfinished() -> None:
    rows = [{"strategy": "r", "status": "skipped", "skipped": "needs redis", "compliant": False, "completion": 0.0},
            {"strategy": "b", "status": "ok", "compliant": False, "completion": 1.0, "policy_rejected": 3}]
    v = verdict.rank("s", rows)
    st = v.standing("r")
    assert st is not None and st.skipped and st.reason == "skipped: needs redis"
    assert v.why_none == "1 of 1 had arrivals the API's policy rejects; 1 skipped (not run)"


def test_a_run_that_made_the_api_reject_the_neighbour_does_not_qualify() -> None:
    rows = [{"strategy": "greedy", "status": "ok", "compliant": False, "completion": 1.0, "policy_rejected": 0,
             "neighbour_rejected": 10, "throughput_rps": 29.1}]
    v = verdict.rank("noisy-neighbour", rows)
    assert v.best == () and v.why_none == "1 of 1 made the API reject the neighbour's requests"
    st = v.standing("greedy")
    assert st is not None and "rejected 10 of the neighbour's requests" in st.reason


def test_an_incomplete_runs_verdict_says_so_in_terminal_markdown_and_html(
        tmp_path: Path, capsys: Any) -> None:
    import json
    import re

    from tests.bench.runfiles import paced, write_run

    run = write_run(tmp_path, "s", [(5, 1.0)], {"a": paced(5, 5.0), "b": paced(5, 2.5)})
    doc = json.loads((run / "results.json").read_text())
    doc["complete"] = False
    doc["meta"]["strategies"] = ["a", "b", "c"]  # c was planned but never ran: interrupted
    (run / "results.json").write_text(json.dumps(doc))
    assert main(["report", str(run)]) == 0
    caveat = "(INCOMPLETE run: 2 of 3 planned runs (strategies × repeats) on disk; the others were never measured)"
    out = capsys.readouterr().out
    assert re.search(r"verdict: s: best — a \(throughput [\d.]+/s\) " + re.escape(caveat), out)
    assert caveat in (run / "report.md").read_text()
    assert "(INCOMPLETE run: 2 of 3 planned runs (strategies × repeats) on disk" in (run / "report.html").read_text()


def test_a_score_shown_like_the_group_above_but_not_tied_gives_three_digits() -> None:
    """token-bucket-burst's case: 0.6245 leads a group (0.6223 is within 1 % of it); 0.6162 is 1.3 % below
    0.6245, not tied, though all three show 0.62."""
    rows = [{"strategy": n, "compliant": True, "efficiency": e, "status": "ok", "completion": 1.0}
            for n, e in (("best", 0.71), ("p", 0.6245), ("q", 0.6223), ("f", 0.6162))]
    v = verdict.rank("s", rows)
    assert [(s.strategy, s.place) for s in v.standings] == [("best", 1), ("p", 2), ("q", 2), ("f", 4)]
    f = v.standing("f")
    assert f is not None and f.reason.endswith(
        "Not tied with p though both show 0.62: 0.616 against 0.625, 1.3 % apart (more than 1 % and the repeats' "
        "range).")
    p = v.standing("p")
    assert p is not None and "Not tied" not in p.reason
