"""The report's charts from a run directory: the fast CSV readers agree with bench.results, titles and order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench import charts, results
from tests.bench.runfiles import paced, write_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("runs"), "two", [(4, 1.0), (10, 60.0)],
                     {"token-bucket": paced(8, 4.0), "unlimited": [(0.0, 200)] * 4 + [(0.0, 429)] * 4}, repeat=2)


def test_readers_agree_with_bench_results(run_dir: Path) -> None:
    for k in (0, 1):
        logs = results.read_arrivals(run_dir / "arrivals.csv")
        assert charts.arrival_times(run_dir / "arrivals.csv", k) == {
            s: [a.t for a in log] for (s, r), log in logs.items() if r == k}
        reqs = results.read_requests(run_dir / "requests.csv")
        # The chart reader draws latencies: it leaves out the exact arrival column, and nothing else.
        assert charts.attempts(run_dir / "requests.csv", k) == {
            s: [replace(x, arrival_ns=None) for x in a] for (s, r), a in reqs.items() if r == k}


def test_a_csv_without_the_columns_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "arrivals.csv"
    bad.write_text("strategy,when\nx,1.0\n")
    with pytest.raises(ValueError, match="lacks one of"):
        charts.arrival_times(bad)


def test_write_all_draws_both_charts_for_every_tier(run_dir: Path) -> None:
    assert charts.write_all(run_dir, results.load(run_dir)) == [charts.BURST, charts.LATENCY, charts.FRONTIER]
    assert charts.title_quota(results.load(run_dir)["meta"]["resolved"]["server"]["quota"]) == \
        "4 per 1 s (sliding-log) + 10 per 60 s (sliding-log)"


def test_no_quota_no_burst_chart(tmp_path: Path) -> None:
    run = write_run(tmp_path, "free", [], {"unlimited": paced(5, 100.0)})
    assert charts.write_all(run, results.load(run)) == [charts.LATENCY, charts.FRONTIER]
    assert charts.title_quota([]) == "no quota"


def test_panels_and_legend_follow_rank_order_and_titles_state_scenario_and_quota(
        run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import plots

    seen: dict[str, tuple[list[str], str]] = {}

    def capture(kind: str):  # type: ignore[no-untyped-def]
        def draw(path: Path, series, *rest, **kw) -> None:  # type: ignore[no-untyped-def]
            seen[kind] = ([s.strategy if isinstance(s, plots.Point) else s[0] for s in series], rest[-1])
        return draw

    monkeypatch.setattr(plots, "burst_accuracy", capture("burst"))
    monkeypatch.setattr(plots, "latency_cdf", capture("latency"))
    monkeypatch.setattr(plots, "frontier", capture("frontier"))
    charts.write_all(run_dir, results.load(run_dir))
    assert set(seen) == {"burst", "latency", "frontier"}
    for kind, (order, title) in seen.items():
        assert order == ["token-bucket", "unlimited"]  # the compliant one ranks first (bench.report)
        assert "scenario 'two', quota 4 per 1 s (sliding-log) + 10 per 60 s (sliding-log)" in title
        # Burst and latency draw one repeat's series; the frontier the table's medians.
        assert ("medians of 2 repeats" if kind == "frontier" else "first repeat of 2") in title


def test_a_token_bucket_run_that_used_its_burst_legally_shows_no_violation(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    # 10 per 1 s with burst 20: 20 at once, then 0.1 s apart — every job 200, 29 in the busiest second.
    legal = [(0.0, 200)] * 20 + [(0.1 * k, 200) for k in range(1, 21)]
    run = write_run(tmp_path, "tb", [(10, 1.0)], {"token-bucket": legal}, algorithm="token-bucket", burst=20)
    assert charts.write_all(run, results.load(run)) == [charts.BURST, charts.LATENCY, charts.FRONTIER]
    with Image.open(run / charts.BURST) as im:
        r, g, b = np.moveaxis(np.asarray(im.convert("RGB")).astype(int), -1, 0)
    assert not ((r > 150) & (g < 130) & (b < 130) & (r - g > 80)).any()  # no red anywhere: nothing rejected


def test_matrix_heatmap_crosses_what_the_verdict_disqualifies(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Two scenarios: token-bucket is compliant in both; unlimited in neither (429s). The matrix report
    # draws the heat map from the verdict's own data, so a cross means "did not qualify" there.
    from bench import matrix_report, plots

    matrix = tmp_path / "m"
    matrix.mkdir()
    write_run(matrix, "a", [(4, 1.0)], {"unlimited": [(0.0, 200)] * 4 + [(0.0, 429)] * 4,
                                        "token-bucket": paced(8, 4.0)}, oracle_s=1.01)
    write_run(matrix, "b", [(4, 1.0)], {"token-bucket": paced(8, 4.0)}, oracle_s=1.01)
    seen = {}
    real = plots.heatmap

    def capture(path, strategies, scenarios, eff, ok, title):  # type: ignore[no-untyped-def]
        seen.update(strategies=list(strategies), scenarios=list(scenarios), eff=eff, ok=ok)
        return real(path, strategies, scenarios, eff, ok, title)

    monkeypatch.setattr(plots, "heatmap", capture)
    matrix_report.write(matrix)
    assert seen["strategies"] == ["token-bucket", "unlimited"] and seen["scenarios"] == ["a", "b"]
    assert seen["ok"][("unlimited", "a")] is False and seen["ok"][("token-bucket", "a")] is True
    assert seen["ok"][("token-bucket", "b")] is True and seen["ok"][("unlimited", "b")] is False  # not run there
    assert seen["eff"][("token-bucket", "b")] == pytest.approx(1.01 / (7 / 4 + 0.01), abs=0.01)
    from PIL import Image

    with Image.open(matrix / matrix_report.HEATMAP) as im:
        im.load()
        assert im.size[0] > 400 and im.size[1] > 200
    assert matrix_report.HEATMAP in (matrix / "report.md").read_text()


TOKEN_BUCKET = """
name = "tb-replay"
description = "token bucket 5 per 1 s, burst 8; 20 jobs at once"
[server]
latency_ms = 5
[[server.quota]]
algorithm = "token-bucket"
limit = 5
window_s = 1.0
burst = 8
[workload]
jobs = 20
release = "batch"
[client]
concurrency = 10
timeout_s = 30
"""


def test_the_replay_rejects_exactly_what_the_mock_server_rejected(tmp_path: Path) -> None:
    from bench.cli import main

    scenario = tmp_path / "tb.toml"
    scenario.write_text(TOKEN_BUCKET)
    assert main(["run", "--scenario", str(scenario), "--strategies", "unlimited,aiolimiter,retry-backoff",
                 "--clock", "virtual", "--out", str(tmp_path / "out")]) == 0
    (run,) = (tmp_path / "out").iterdir()
    quota = results.load(run)["meta"]["resolved"]["server"]["quota"][0]
    logs = results.read_arrivals(run / "arrivals.csv")
    rejected_by_server = {s: sorted(a.t for a in log if a.status == 429) for (s, _), log in logs.items()}
    assert rejected_by_server["unlimited"]  # the check below is not vacuous
    for s, times in charts.arrival_times(run / "arrivals.csv").items():
        assert charts.policy_rejections(times, quota) == pytest.approx(rejected_by_server[s]), s


def test_a_skipped_strategy_is_named_as_skipped_not_drawn_as_0_percent_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import plots

    seen: dict[str, object] = {}
    real = plots.latency_cdf

    def spy(path: Path, series: object, title: str, skipped: object = ()) -> plots.Chart:
        seen["series"], seen["skipped"] = [s[0] for s in series], skipped  # type: ignore[attr-defined]
        return real(path, series, title, skipped=skipped)  # type: ignore[arg-type]

    monkeypatch.setattr(plots, "latency_cdf", spy)
    run = write_run(tmp_path, "one", [(4, 1.0)], {"token-bucket": paced(4, 4.0)}, skipped={"redis": "no redis"})
    charts.write_all(run, results.load(run))
    assert seen == {"series": ["token-bucket"], "skipped": ["redis"]}
