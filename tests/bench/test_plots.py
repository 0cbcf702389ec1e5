"""Each chart type rendered from a small fixed run: the PNG decodes, the lines are the expected data, in
rank order and in each strategy's own colour; and drawing stays bounded whatever the run's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import charts, plots, results
from bench.metrics import peak_window_count
from strategies.registry import BUILTIN
from tests.bench.runfiles import write_run

#: 3 per 1 s. Ranked (bench.report): token-bucket (compliant), aiolimiter (5/6 done), unlimited (3/6 done).
RUNS = {
    "unlimited": [(0.0, 200)] * 3 + [(0.0, 429)] * 3,
    "aiolimiter": [(0.0, 200), (0.0, 200), (0.0, 200), (0.5, 429), (1.0, 200), (1.0, 200)],
    "token-bucket": [(0.0, 200), (0.4, 200), (0.8, 200), (1.2, 200), (1.6, 200), (2.0, 200)],
}
TIER = "3 per 1 s (sliding-log)"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("runs"), "tiny", [(3, 1.0)], RUNS)


def decodes(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        im.load()  # decodes every pixel, not only the header
        assert im.format == "PNG"
        return im.size


def test_burst_accuracy_from_a_fixed_run(tiny: Path, tmp_path: Path) -> None:
    logs = results.read_arrivals(tiny / "arrivals.csv")
    order = ["token-bucket", "aiolimiter", "unlimited"]
    chart = plots.burst_accuracy(tmp_path / "burst.png", [(s, [a.t for a in logs[(s, 0)]]) for s in order],
                                 [plots.Tier(3, 1.0)], "tiny")
    width, height = decodes(chart.path)
    assert width > 500 and height > 300
    # Hand-computed: arrivals in (t - 1 s, t] at each arrival, panels in the order given.
    assert chart.series == {
        f"token-bucket @ {TIER}": ((0.0, 0.4, 0.8, 1.2, 1.6, 2.0), (1.0, 2.0, 3.0, 3.0, 3.0, 3.0)),
        f"aiolimiter @ {TIER}": ((0.0, 0.0, 0.0, 0.5, 1.0, 1.0), (3.0, 3.0, 3.0, 4.0, 3.0, 3.0)),
        f"unlimited @ {TIER}": ((0.0,) * 6, (6.0,) * 6),
    }
    assert chart.colours == {f"{s} @ {TIER}": plots.colour(s) for s in order}


def test_latency_cdf_from_a_fixed_run(tiny: Path, tmp_path: Path) -> None:
    reqs = results.read_requests(tiny / "requests.csv")
    order = ["token-bucket", "aiolimiter", "unlimited"]
    chart = plots.latency_cdf(tmp_path / "cdf.png",
                              [(s, charts.job_latencies_ms(reqs[(s, 0)]), 6) for s in order], "tiny")
    decodes(chart.path)
    assert list(chart.series) == order
    xs, ys = chart.series["token-bucket"]
    assert xs == pytest.approx((10, 410, 810, 1210, 1610, 2010)) and ys == pytest.approx((1 / 6, 2 / 6, 3 / 6,
                                                                                          4 / 6, 5 / 6, 1.0))
    # The 429 at 0.5 s never succeeded: 5 of 6 jobs, the curve ends at 5/6.
    xs, ys = chart.series["aiolimiter"]
    assert xs == pytest.approx((10, 10, 10, 1010, 1010)) and ys == pytest.approx((1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6))
    xs, ys = chart.series["unlimited"]
    assert xs == pytest.approx((10, 10, 10)) and ys == pytest.approx((1 / 6, 2 / 6, 3 / 6))
    assert chart.colours == {s: plots.colour(s) for s in order}


def test_every_builtin_strategy_has_its_own_colour_and_style() -> None:
    looks = {(plots.colour(s), plots._style(s)) for s in BUILTIN}
    assert len(looks) == len(BUILTIN)
    assert len({plots.colour(s) for s in BUILTIN}) == len(BUILTIN)
    assert plots.OVER not in {plots.colour(s) for s in BUILTIN}  # red means "over the limit" only
    assert plots.colour("my.module:Mine") == plots.colour("my.module:Mine")  # a user's: stable by name


def test_cdf_points_are_bounded_and_end_at_the_maximum() -> None:
    xs, ys = plots.cdf_points([float(i) for i in range(10_000)], 20_000, points=100)
    assert len(xs) <= 101 and xs[-1] == 9999.0 and ys[-1] == 0.5 and xs[0] == 0.0
    with pytest.raises(ValueError, match="total"):
        plots.cdf_points([1.0, 2.0], 1)


@pytest.mark.parametrize("n", [1_000, 100_000])
def test_drawing_is_bounded_whatever_the_number_of_arrivals(tmp_path: Path, n: int) -> None:
    # An hour-long window: 3 strategies of n arrivals spread over 2 h, one bursting n // 10 at the start.
    limit, window = 5_000, 3600.0
    series = [(f"s{k}", [i * 7200 / n for i in range(n)]) for k in range(2)]
    series.append(("bursty", [0.0] * (n // 10) + [i * 7200 / n for i in range(n)]))
    chart = plots.burst_accuracy(tmp_path / "big.png", series, [plots.Tier(limit, window)], "big")
    decodes(chart.path)
    # Per band: a line of at most MAX_POINTS + 1 points, a fill and a bar collection of at most
    # ~4 points per envelope point, a limit and a separator collection: independent of n.
    assert chart.artists <= 3 * 3 + 2
    assert chart.points <= 3 * (plots.MAX_POINTS + 1) * 9
    for name, times in series:
        xs, ys = chart.series[f"{name} @ 5000 per 3600 s (sliding-log)"]
        assert len(xs) <= plots.MAX_POINTS and max(ys) == peak_window_count(times, window)


def test_a_strategy_with_no_arrivals_and_odd_characters_still_renders(tmp_path: Path) -> None:
    series = [("ok", [0.0, 0.5]), ("$never$ sent", [])]
    burst = plots.burst_accuracy(tmp_path / "b.png", series, [plots.Tier(2, 1.0)], "price in $ and 50%")
    decodes(burst.path)
    assert burst.series["$never$ sent @ 2 per 1 s (sliding-log)"] == ((), ())
    cdf = plots.latency_cdf(tmp_path / "c.png", [("ok", [5.0, 0.0], 2), ("$never$ sent", [], 2)], "$x")
    decodes(cdf.path)
    assert cdf.series["$never$ sent"] == ((), ()) and cdf.series["ok"] == ((0.0, 5.0), (0.5, 1.0))


def test_the_over_limit_fill_covers_a_stretch_whose_next_point_is_back_under() -> None:
    # Over the limit 3 from 1.0 to 1.33 only: the fill's polyline holds 4 there until the next arrival.
    sx, sy = plots.step_corners([0.0, 1.0, 1.33], [3, 4, 3])
    over = [(x0, x1) for x0, x1, y0, y1 in zip(sx, sx[1:], sy, sy[1:], strict=False) if y0 > 3 and y1 > 3]
    assert over == [(1.0, 1.33)]
    assert plots.step_corners([], []) == ([], [])


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def red_pixels(path: Path) -> int:
    """Pixels in the 'violation' red family (OVER, its fills and marks): strong red, little green and blue."""
    r, g, b = np.moveaxis(pixels(path), -1, 0)
    return int(((r > 150) & (g < 130) & (b < 130) & (r - g > 80)).sum())


def colour_pixels(path: Path, hex_colour: str, tol: int = 12) -> int:
    want = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels(path) - want) <= tol).all(axis=-1).sum())


#: Strategies whose own colour is nowhere near red, so red in their charts can only mean a violation.
CALM = ["token-bucket", "aiolimiter", "worker-pool"]


def test_calm_strategies_are_not_drawn_in_red() -> None:
    for s in CALM:
        r, g, b = (int(plots.colour(s)[i:i + 2], 16) for i in (1, 3, 5))
        assert not (r > 150 and g < 130 and b < 130 and r - g > 80), s


def test_a_legal_token_bucket_burst_is_not_drawn_as_a_violation(tmp_path: Path) -> None:
    # Token bucket 10 per 1 s, burst 20: 20 at once, then one every 0.1 s — 29 in the busiest 1 s, all legal.
    legal = [0.0] * 20 + [0.1 * k for k in range(1, 30)]
    over = [0.0] * 30  # 10 more than the bucket holds
    tier = charts.chart_tier({"algorithm": "token-bucket", "limit": 10, "window_s": 1.0, "burst": 20})
    assert tier.most == 29 and tier.exact
    q = {"algorithm": "token-bucket", "limit": 10, "window_s": 1.0, "burst": 20}
    assert charts.policy_rejections(legal, q) == [] and charts.policy_rejections(over, q) == [0.0] * 10

    ok = plots.burst_accuracy(tmp_path / "legal.png", [("token-bucket", legal)], [tier], "tb",
                              {("token-bucket", 0): []})
    decodes(ok.path)
    assert max(ok.series["token-bucket @ 10 per 1 s (token-bucket)"][1]) == 29  # over L = 10 ...
    assert red_pixels(ok.path) == 0  # ... yet nothing red: the policy rejects none
    assert colour_pixels(ok.path, "#f9dda8", tol=4) > 200  # LEGAL_OVER at alpha 0.45 on white: "over L, legal here"

    bad = plots.burst_accuracy(tmp_path / "over.png", [("token-bucket", over)], [tier], "tb",
                               {("token-bucket", 0): charts.policy_rejections(over, q) or []})
    assert red_pixels(bad.path) > 100  # the rejected arrivals are marked


def test_a_sliding_log_crossing_is_red_and_each_tier_has_its_own_column(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.2, 0.3, 5.0, 5.1]
    tiers = [plots.Tier(3, 1.0), plots.Tier(5, 10.0)]
    chart = plots.burst_accuracy(tmp_path / "two.png", [("aiolimiter", times)], tiers, "two tiers")
    width, _ = decodes(chart.path)
    assert width > 1500  # two columns, one per tier
    assert chart.series["aiolimiter @ 3 per 1 s (sliding-log)"][1] == (1.0, 2.0, 3.0, 4.0, 1.0, 2.0)
    assert max(chart.series["aiolimiter @ 5 per 10 s (sliding-log)"][1]) == 6.0
    assert red_pixels(chart.path) > 100
    calm = plots.burst_accuracy(tmp_path / "calm.png", [("aiolimiter", [0.0, 0.5, 1.0])], tiers, "two tiers")
    assert red_pixels(calm.path) == 0


def test_frontier_from_a_fixed_run(tmp_path: Path) -> None:
    from bench import report

    # The oracle sends 3 at 0 and 3 at 1 s: 1.01 s with the 10 ms latency; token-bucket took 2.01 s.
    run = write_run(tmp_path, "tiny", [(3, 1.0)], RUNS, oracle_s=1.01)
    points = charts.frontier_points(report.summarise(results.load(run)["runs"]))
    # Hand-checked: token-bucket did every job with 0 × 429; the others left jobs undone (no efficiency).
    assert [(p.strategy, p.x, p.compliant) for p in points] == [
        ("token-bucket", 0.0, True), ("aiolimiter", 1.0, False), ("unlimited", 3.0, False)]
    assert points[0].efficiency == pytest.approx(1.01 / 2.01) and points[1].efficiency is None
    chart = plots.frontier(tmp_path / "f.png", points, "frontier")
    decodes(chart.path)
    assert list(chart.series) == ["token-bucket"]  # the two without an efficiency are listed, not drawn
    assert chart.colours == {"token-bucket": plots.colour("token-bucket")}
    assert colour_pixels(chart.path, plots.colour("token-bucket"), tol=8) > 40  # its filled marker
    assert red_pixels(chart.path) == 0  # the only point drawn is compliant: no red ring
    worse = plots.frontier(tmp_path / "g.png", [plots.Point("token-bucket", 0.9, 4.0, False),
                                                plots.Point("aiolimiter", 1.0, 0.0, True)], "frontier")
    assert red_pixels(worse.path) > 30  # the non-compliant point's ring


def test_frontier_labels_never_overlap() -> None:
    ys = plots.spread_labels([0.5] * 28, 0.03, 0.0, 1.0)
    assert min(b - a for a, b in zip(sorted(ys), sorted(ys)[1:], strict=False)) >= 0.03 - 1e-9
    assert min(ys) >= 0.0 and max(ys) <= 1.0


def test_heatmap_colours_cells_by_efficiency_and_marks_the_non_compliant(tmp_path: Path) -> None:
    strategies, scenarios = ["token-bucket", "aiolimiter"], ["steady", "bursty", "slow"]
    eff = {("token-bucket", "steady"): 1.0, ("token-bucket", "bursty"): 0.0, ("aiolimiter", "steady"): 1.0,
           ("aiolimiter", "bursty"): None}
    ok = {k: True for k in eff}
    chart = plots.heatmap(tmp_path / "h.png", strategies, scenarios, eff, ok, "matrix")
    decodes(chart.path)
    assert chart.series["token-bucket"] == ((0.0, 1.0), (1.0, 0.0))
    assert colour_pixels(chart.path, "#fde725") > 1000  # viridis at 1.0: two full cells
    assert colour_pixels(chart.path, "#440154") > 500  # viridis at 0.0
    assert red_pixels(chart.path) == 0  # every run compliant: no marks
    marked = plots.heatmap(tmp_path / "m.png", strategies, scenarios, eff,
                           {**ok, ("token-bucket", "steady"): False}, "matrix")
    assert red_pixels(marked.path) > 20
    with pytest.raises(ValueError, match="at least one"):
        plots.heatmap(tmp_path / "e.png", [], scenarios, eff, ok, "matrix")
