"""Charts. The only module that imports matplotlib (lazily, with the non-interactive Agg backend).

Every chart is drawn from aggregated data — one line per panel, at most :data:`MAX_POINTS` points
each — never one artist per request or per time bin, so the time to draw and the memory used do not
grow with the length of the run. The functions take plain series (times, latencies) in the order the
panels or lines should appear (rank order) and return a :class:`Chart` that says what was drawn.

Colours are fixed per strategy (:func:`colour`), so one strategy looks the same in every chart and
every report.

>>> colour("token-bucket") == colour("token-bucket") and colour("token-bucket") != colour("aiolimiter")
True
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.windows import max_envelope, trailing_counts
from mock_server import ticks
from strategies.registry import BUILTIN

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MAX_POINTS", "OVER", "Chart", "Tier", "burst_accuracy", "burst_series", "cdf_points", "colour",
           "latency_cdf", "step_corners"]

#: Upper bound on the points of any one line: about one per pixel column of a panel.
MAX_POINTS = 800

# 28 colours that stay apart on white, none of them red: red is kept for "over the limit" (:data:`OVER`).
# tab10 without its red, tab20b's darker half without its red, Dark2, two greys. The built-in strategies take
# them in registry order; a user's strategy by its name's hash.
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#393b79", "#637939", "#8c6d31", "#7b4173", "#5254a3", "#8ca252", "#bd9e39", "#a55194",
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#444444", "#000000",
    "#6b6ecf", "#b5cf6b",  # tab20b's lighter blue and green: the token-weighted strategies made 28
    "#e7ba52", "#9c9ede",  # tab20b's lighter gold and lavender: the Redis-backed strategies made 30
)
#: The colour of "over the limit" in every chart, and of no strategy.
OVER = "#d62728"
_STYLES = ("-", "--", "-.", ":")
_BUILTIN_ORDER = {name: i for i, name in enumerate(BUILTIN)}


def colour(strategy: str) -> str:
    """The strategy's colour in every chart (built-ins: by registry position; others: by name)."""
    i = _BUILTIN_ORDER.get(strategy)
    if i is None:
        i = zlib.crc32(strategy.encode()) % len(_PALETTE)
    return _PALETTE[i % len(_PALETTE)]


def _plain(text: str) -> str:
    """``text`` shown as written: a ``$`` would otherwise start matplotlib's math mode (and can fail to parse)."""
    return text.replace("$", r"\$")


def _style(strategy: str) -> str:
    # Ten colours per line style, so two strategies never share both in a 24-line chart.
    i = _BUILTIN_ORDER.get(strategy, zlib.crc32(strategy.encode()) % 40)
    return _STYLES[(i // 10) % len(_STYLES)]


@dataclass(frozen=True)
class Tier:
    """One quota tier as the chart states it: ``limit`` arrivals per ``window_s`` (the server's algorithm)."""

    limit: int
    window_s: float
    algorithm: str = "sliding-log"

    @property
    def label(self) -> str:
        return f"{self.limit} per {self.window_s:g} s ({self.algorithm})"


@dataclass(frozen=True)
class Chart:
    """A rendered chart: the file, what each line showed, and how much was drawn.

    ``series`` maps a line's label (``strategy`` or ``strategy @ tier``) to the (x, y) points drawn;
    ``colours`` maps the same labels to the colour their line was drawn in (read back from the line);
    ``artists`` and ``points`` count every line, collection, patch and image on the figure and the
    data points they hold — bounded by the number of lines, not by the size of the run.
    """

    path: Path
    series: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]
    colours: dict[str, str]
    artists: int
    points: int


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: Path, series: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]) -> Chart:
    from matplotlib.colors import to_hex

    artists = points = 0
    colours: dict[str, str] = {}
    for ax in fig.axes:
        for line in ax.lines:
            artists += 1
            points += len(line.get_path())
            gid = line.get_gid()
            if gid is not None and gid in series:
                colours[gid] = to_hex(line.get_color())
        for coll in ax.collections:
            artists += 1
            points += sum(len(p) for p in coll.get_paths())
        artists += len(ax.patches) + len(ax.images)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return Chart(path, series, colours, artists, points)


def burst_series(times: Sequence[float], tier: Tier, t_end: float,
                 points: int = MAX_POINTS) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """What one burst panel draws: at each arrival, the arrivals in the trailing ``tier.window_s``,
    reduced to at most ``points`` points that keep every peak (:func:`bench.windows.max_envelope`).

    >>> burst_series([0.0, 0.1, 0.2, 1.5], Tier(2, 1.0), 2.0)
    ((0.0, 0.1, 0.2, 1.5), (1, 2, 3, 1))
    """
    ts = sorted(times)
    # Counted in the server's integer ticks, so the chart crosses the limit exactly where the server did.
    counts = trailing_counts([ticks.from_seconds(t) for t in ts], ticks.from_seconds(tier.window_s))
    xs, ys = max_envelope(ts, counts, t_end, points)
    return tuple(xs), tuple(ys)


def _versus(peak: int, limit: int) -> str:
    """The peak against ``L``, never rounded onto it: a peak of 5 001 against 5 000 is ``L + 1``, not ``1.00 × L``.

    >>> _versus(39, 20), _versus(5001, 5000), _versus(4999, 5000), _versus(20, 20), _versus(12, 20)
    ('= 1.95 × L', '= L + 1', '= L − 1', '= L', '= 0.60 × L')
    """
    if peak == limit:
        return "= L"
    ratio = f"{peak / limit:.2f}"
    if ratio == "1.00":
        return f"= L {'+' if peak > limit else '−'} {abs(peak - limit)}"
    return f"= {ratio} × L"


def step_corners(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    """The corners of a ``steps-post`` line (each ``y`` held until the next ``x``) as a plain polyline, so
    that a fill ``where`` the value is over a limit covers exactly the stretches that are.

    >>> step_corners([0.0, 1.0, 3.0], [5, 2, 4])
    ([0.0, 1.0, 1.0, 3.0, 3.0, 3.0], [5, 5, 2, 2, 4, 4])
    """
    if not xs:
        return [], []
    return [xs[0], *(c for x in xs[1:] for c in (x, x)), xs[-1]], [c for y in ys for c in (y, y)]


#: The burst panels' y-axis ends at this multiple of ``L`` (taller peaks are clipped, their value printed):
#: a 10×L burst would otherwise flatten every compliant panel onto the axis.
Y_CAP = 2.5


def burst_accuracy(path: Path, series: Sequence[tuple[str, Sequence[float]]], tiers: Sequence[Tier],
                   title: str) -> Chart:
    """Per strategy (bands from the top, in the given order) and quota tier (columns): the server
    arrivals in the trailing window ``W`` at every arrival, against the tier's limit ``L`` (dashed).
    Above the line (red) the server saw more than ``L`` in some window of ``W``: over the limit in
    sliding-window terms. Every band of a column has the same scale, 0 to at most :data:`Y_CAP` × ``L``
    (taller peaks are clipped; every band prints its peak), so bands compare at a glance.

    The bands are drawn in one Axes per tier (not one per strategy): Axes and their ticks are most of
    what a figure costs to draw, and 24 of them took longer than everything else in the report.
    """
    plt = _pyplot()
    from matplotlib.ticker import FixedLocator, NullLocator

    if not tiers:
        raise ValueError("burst_accuracy: needs at least one quota tier")
    rows, cols = max(1, len(series)), len(tiers)
    t_end = max((max(ts) for _, ts in series if len(ts)), default=1.0) or 1.0
    # Inches: band height, title and axis-label room, strategy names, one tier's plot, its peak labels.
    row_in, head_in, foot_in, label_in, col_in, peak_in = 0.5, 1.15, 0.55, 2.1, 7.0, 1.25
    gap = peak_in + 0.35
    w, h = label_in + cols * col_in + (cols - 1) * gap + peak_in, row_in * rows + head_in + foot_in
    fig, axes = plt.subplots(1, cols, figsize=(w, h), squeeze=False)
    fig.subplots_adjust(left=label_in / w, right=1 - peak_in / w, top=1 - head_in / h, bottom=foot_in / h,
                        wspace=gap / col_in)
    drawn: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    for c, tier in enumerate(tiers):
        ax = axes[0, c]
        data = [(name, *burst_series(times, tier, t_end)) for name, times in series]
        top = max([float(tier.limit)] + [float(max(ys)) for _, _, ys in data if ys])
        cap = max(min(top, Y_CAP * tier.limit), 1.25 * tier.limit)
        band = cap * 1.15  # the band's height in count units: the scale is the same for every band
        for r, (name, xs, ys) in enumerate(data):
            base = (rows - 1 - r) * band
            key = f"{name} @ {tier.label}"
            drawn[key] = (xs, tuple(float(y) for y in ys))
            if not xs:
                ax.text(0.5 * t_end, base + 0.5 * band, "no arrivals", ha="center", va="center", fontsize=7)
                continue
            shown = [base + min(y, cap) for y in ys]
            # From 0 at the first arrival, so that a burst at a single instant is a visible rise.
            ax.plot((xs[0], *xs), (base, *shown), drawstyle="steps-post", color=colour(name), lw=1.1, gid=key)
            over = [(x, v) for x, y, v in zip(xs, ys, shown, strict=True) if y > tier.limit]
            if over:
                limit = base + tier.limit
                # fill_between's own step mode drops a stretch whose next point is back under the limit.
                sx, sy = step_corners(xs, shown)
                ax.fill_between(sx, limit, sy, where=[v > limit for v in sy], color=OVER, alpha=0.35, lw=0)
                ax.vlines([x for x, _ in over], limit, [v for _, v in over], color=OVER, lw=1.0)
            peak = max(ys)
            # Right of the band, outside the plot: a clipped line never runs over it.
            ax.text(1.01, base + 0.5 * band, f"peak {peak}\n{_versus(peak, tier.limit)}", ha="left", va="center",
                    fontsize=7, transform=ax.get_yaxis_transform(),
                    color=OVER if peak > tier.limit else "#333333")
        bases = [(rows - 1 - r) * band for r in range(rows)]
        ax.hlines([b + tier.limit for b in bases], -0.02 * t_end, 1.02 * t_end, color="black", ls="--", lw=0.8)
        ax.hlines(bases[:-1], -0.02 * t_end, 1.02 * t_end, color="#999999", lw=0.6)  # band separators
        ax.set_xlim(-0.02 * t_end, 1.02 * t_end)
        ax.set_ylim(0, rows * band)
        ax.yaxis.set_major_locator(FixedLocator([b + tier.limit for b in bases]))
        ax.yaxis.set_minor_locator(NullLocator())
        if c == 0:
            ax.set_yticklabels([f"{_plain(name)}   L" for name, *_ in data], fontsize=8)
            for label, (name, *_) in zip(ax.get_yticklabels(), data, strict=True):
                label.set_color(colour(name))
        else:
            ax.set_yticklabels(["L"] * rows, fontsize=8)
        clipped = f", clipped at {Y_CAP:g} × L" if top > cap else ""
        ax.set_title(f"L = {tier.label} (dashed)\neach band: arrivals in the trailing {tier.window_s:g} s, "
                     f"0 to {cap:g}{clipped}", fontsize=8)
        ax.set_xlabel("server time since run start (s)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(_plain(title), fontsize=10, y=1 - 0.08 / h, va="top")
    return _save(fig, path, drawn)


def cdf_points(latencies_ms: Sequence[float], total: int,
               points: int = MAX_POINTS) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The empirical CDF of ``latencies_ms`` as a fraction of ``total`` jobs (so a run that finished
    60 % of its jobs ends at 0.6), reduced to at most ``points + 1`` steps taken at evenly spaced ranks
    (the last one, the maximum, always kept).

    >>> cdf_points([30.0, 10.0, 20.0], 4)
    ((10.0, 20.0, 30.0), (0.25, 0.5, 0.75))
    """
    if total < 1 or total < len(latencies_ms):
        raise ValueError(f"cdf_points: total must be >= 1 and >= the {len(latencies_ms)} values, got {total}")
    v = sorted(latencies_ms)
    n = len(v)
    ranks = range(n) if n <= points else sorted({round(k * (n - 1) / points) for k in range(points + 1)})
    return tuple(v[i] for i in ranks), tuple((i + 1) / total for i in ranks)


def latency_cdf(path: Path, series: Sequence[tuple[str, Sequence[float], int]], title: str) -> Chart:
    """One line per strategy (legend in the given order): the share of the workload's jobs done
    (final attempt 2xx) within x ms of their intended start. ``series`` holds
    ``(strategy, latencies of the jobs that succeeded in ms, jobs in the workload)``.
    """
    plt = _pyplot()
    from matplotlib.ticker import NullLocator

    fig, ax = plt.subplots(figsize=(10.5, 5.6))
    fig.subplots_adjust(left=0.08, right=0.70, top=0.88, bottom=0.1)
    drawn: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    positive = [x for _, lat, _ in series for x in lat if x > 0]
    log = bool(positive) and len(positive) == sum(len(lat) for _, lat, _ in series) and \
        max(positive) / min(positive) > 100
    for name, lat, total in series:
        xs, ys = cdf_points(lat, total)
        drawn[name] = (xs, ys)
        done = ys[-1] if ys else 0.0
        # Start each curve at 0 jobs so that its first step is visible.
        ax.plot((xs[0], *xs) if xs else (), (0.0, *ys) if xs else (), drawstyle="steps-post", color=colour(name),
                ls=_style(name), lw=1.3, label=f"{_plain(name)} ({done:.0%} done)", gid=name)
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())  # minor ticks: many Tick objects, each costly to draw
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("latency from intended send time (ms)" + (", log scale" if log else ""), fontsize=9)
    ax.set_ylabel("share of the workload's jobs done", fontsize=9)
    ax.grid(True, which="major", lw=0.4, alpha=0.5)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.tick_params(labelsize=8)
    fig.suptitle(_plain(title), fontsize=10)
    return _save(fig, path, drawn)
