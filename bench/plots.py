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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.windows import max_envelope, trailing_counts
from mock_server import ticks
from strategies.registry import BUILTIN

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["LEGAL_OVER", "MAX_POINTS", "OVER", "Chart", "Point", "Tier", "burst_accuracy", "burst_series",
           "cdf_points", "colour", "frontier", "heatmap", "latency_cdf", "spread_labels", "step_corners"]

#: Upper bound on the points of any one line: about one per pixel column of a panel.
MAX_POINTS = 800

# 29 colours that stay apart on white, none of them red: red is kept for "over the limit" (:data:`OVER`).
# tab10 without its red, tab20b's darker half without its red, Dark2, two greys. The built-in strategies take
# them in registry order; a user's strategy by its name's hash.
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#393b79", "#637939", "#8c6d31", "#7b4173", "#5254a3", "#8ca252", "#bd9e39", "#a55194",
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#444444", "#000000",
    "#6b6ecf", "#b5cf6b",  # tab20b's lighter blue and green: the token-weighted strategies made 28
    "#ce6dbd",  # tab20b's lighter purple: frontier made 29
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
    """One quota tier as the chart states it: ``limit`` arrivals per ``window_s`` (the server's algorithm).

    ``ceiling`` is the most arrivals the tier's own policy accepts in any trailing ``window_s`` (``None``: the
    limit, as for a sliding log); ``exact`` says whether it is that maximum or only a bound (clock-aligned
    windows: any ``W`` spans at most two of them, so ``2 L`` bounds it). A token bucket of ``limit`` per ``W``
    with burst ``B`` accepts ``B + L - 1`` in a ``W``: a legal burst that a chart drawn against ``L`` alone would
    paint as a violation.

    >>> Tier(10, 1.0, "token-bucket", ceiling=29).most, Tier(20, 1.0).most
    (29, 20)
    """

    limit: int
    window_s: float
    algorithm: str = "sliding-log"
    ceiling: int | None = None
    exact: bool = True

    @property
    def label(self) -> str:
        return f"{self.limit} per {self.window_s:g} s ({self.algorithm})"

    @property
    def most(self) -> int:
        return self.limit if self.ceiling is None else max(self.ceiling, self.limit)


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


#: The burst panels' y-axis ends at this multiple of the policy's most in a window (:attr:`Tier.most`; taller
#: peaks are clipped, their value printed): a 10×L burst would otherwise flatten every compliant panel onto the axis.
Y_CAP = 2.5


#: Above ``L`` but within what the policy accepts: over the stricter sliding-window rule only (a fill, never a
#: strategy's line colour).
LEGAL_OVER = "#f2b33d"


def _thin(times: Sequence[float], t_end: float, points: int = MAX_POINTS) -> list[float]:
    """At most ``points`` of ``times`` (ascending), one per slice of ``[0, t_end]``: marks stay bounded."""
    if len(times) <= points:
        return list(times)
    width = t_end / points if t_end > 0 else 1.0
    seen: dict[int, float] = {}
    for t in times:
        seen.setdefault(min(points - 1, max(0, int(t / width))), t)
    return list(seen.values())


def burst_accuracy(path: Path, series: Sequence[tuple[str, Sequence[float]]], tiers: Sequence[Tier],
                   title: str, rejected: Mapping[tuple[str, int], Sequence[float]] | None = None) -> Chart:
    """Per strategy (bands from the top, in the given order) and quota tier (columns): the server
    arrivals in the trailing window ``W`` at every arrival, against the tier's limit ``L`` (dashed) and,
    where the policy accepts more than ``L`` in some ``W`` (a token bucket's burst, clock-aligned windows),
    the most it accepts (dotted, :attr:`Tier.most`).

    Red marks the violations: arrivals the tier's policy rejects, from ``rejected`` (times per
    ``(strategy, tier index)``, a replay of the arrivals through the policy) where given, and always every
    arrival whose count is over :attr:`Tier.most` (red fill). Above ``L`` but within what the policy accepts
    is amber: legal for this server, over the stricter sliding-window rule. Every band of a column has the
    same scale, 0 to at most :data:`Y_CAP` × the policy's most (taller peaks are clipped; every band prints
    its peak), so bands compare at a glance.

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
    row_in, head_in, foot_in, label_in, col_in, peak_in = 0.5, 1.3, 0.55, 2.1, 7.0, 1.45
    gap = peak_in + 0.45
    w, h = label_in + cols * col_in + (cols - 1) * gap + peak_in, row_in * rows + head_in + foot_in
    fig, axes = plt.subplots(1, cols, figsize=(w, h), squeeze=False)
    fig.subplots_adjust(left=label_in / w, right=1 - peak_in / w, top=1 - head_in / h, bottom=foot_in / h,
                        wspace=gap / col_in)
    drawn: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    for c, tier in enumerate(tiers):
        ax = axes[0, c]
        most = tier.most
        data = [(name, *burst_series(times, tier, t_end)) for name, times in series]
        top = max([float(most)] + [float(max(ys)) for _, _, ys in data if ys])
        cap = max(min(top, Y_CAP * most), 1.25 * most)
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
            sx, sy = step_corners(xs, shown)  # fill_between's own step mode drops a one-point stretch
            limit, ceiling = base + tier.limit, base + min(most, cap)
            if max(ys) > tier.limit and most > tier.limit:
                ax.fill_between(sx, limit, [min(v, ceiling) for v in sy], where=[v > limit for v in sy],
                                color=LEGAL_OVER, alpha=0.45, lw=0)
            if max(ys) > most:
                ax.fill_between(sx, ceiling, sy, where=[v > ceiling for v in sy], color=OVER, alpha=0.35, lw=0)
            marks = list(rejected.get((name, c), ())) if rejected is not None else []
            marks += [x for x, y in zip(xs, ys, strict=True) if y > most]
            if marks:
                ax.vlines(_thin(sorted(marks), t_end), base, base + 0.92 * band, color=OVER, lw=1.0, alpha=0.8,
                          gid=f"rejected {key}")
            peak = max(ys)
            n_rej = len(rejected.get((name, c), ())) if rejected is not None and (name, c) in rejected else None
            verdict = (f"policy rejects {n_rej}" if n_rej else "policy rejects none" if n_rej == 0
                       else "over its most" if peak > most else "")
            # Right of the band, outside the plot: a clipped line never runs over it.
            ax.text(1.01, base + 0.5 * band, f"peak {peak} {_versus(peak, tier.limit)}\n{verdict}", ha="left",
                    va="center", fontsize=7, transform=ax.get_yaxis_transform(),
                    color=OVER if n_rej or peak > most else "#9a6a00" if peak > tier.limit else "#333333")
        bases = [(rows - 1 - r) * band for r in range(rows)]
        ax.hlines([b + tier.limit for b in bases], -0.02 * t_end, 1.02 * t_end, color="black", ls="--", lw=0.8)
        if most > tier.limit and most <= cap:
            # Dark, not red: red on a chart means a violation happened, never "where one would start".
            ax.hlines([b + most for b in bases], -0.02 * t_end, 1.02 * t_end, color="#444444", ls=":", lw=1.0)
        ax.hlines(bases[:-1], -0.02 * t_end, 1.02 * t_end, color="#999999", lw=0.6)  # band separators
        ax.set_xlim(-0.02 * t_end, 1.02 * t_end)
        ax.set_ylim(0, rows * band)
        ax.yaxis.set_major_locator(FixedLocator([b + tier.limit for b in bases]))
        ax.yaxis.set_minor_locator(NullLocator())
        if c == 0:
            ax.set_yticklabels([f"{_plain(name)}   L={tier.limit}" for name, *_ in data], fontsize=8)
            for label, (name, *_) in zip(ax.get_yticklabels(), data, strict=True):
                label.set_color(colour(name))
        else:
            ax.set_yticklabels([f"L={tier.limit}"] * rows, fontsize=8)
        clipped = f", clipped at {cap:g}" if top > cap else ""
        most_note = ""
        if most > tier.limit:
            most_note = (f"; dotted: the most {tier.algorithm} accepts in any {tier.window_s:g} s = {most}"
                         if tier.exact else f"; dotted: {most} = 2 L, more than {tier.algorithm} ever accepts")
        ax.set_title(f"L = {tier.label} (dashed){most_note}\neach band: count of arrivals in the trailing "
                     f"{tier.window_s:g} s, 0 to {cap:g}{clipped}", fontsize=8)
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


def latency_cdf(path: Path, series: Sequence[tuple[str, Sequence[float], int]], title: str,
                skipped: Sequence[str] = ()) -> Chart:
    """One line per strategy (legend in the given order): the share of the workload's jobs done
    (final attempt 2xx) within x ms of their intended start. ``series`` holds
    ``(strategy, latencies of the jobs that succeeded in ms, jobs in the workload)``; ``skipped`` strategies
    (not run) are named under the plot, not drawn.
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
    if skipped:
        fig.text(0.01, 0.01, "skipped (not run): " + ", ".join(_plain(s) for s in skipped), fontsize=7,
                 ha="left", va="bottom")
    fig.suptitle(_plain(title), fontsize=10)
    return _save(fig, path, drawn)


@dataclass(frozen=True)
class Point:
    """One strategy on the frontier: its ``efficiency`` (``None``: not every job done) against ``x``
    (its 429s, or its burst ratio), and whether the run was ``compliant`` (filled) or not (hollow, red ring)."""

    strategy: str
    efficiency: float | None
    x: float | None
    compliant: bool


def spread_labels(ys: Sequence[float], gap: float, low: float, high: float) -> list[float]:
    """Label heights near ``ys`` (in any order) at least ``gap`` apart, inside ``[low, high]`` when they
    fit: pushed up past their neighbour below, then back down from the top.

    >>> spread_labels([0.5, 0.5, 0.9], 0.1, 0.0, 1.0)
    [0.5, 0.6, 0.9]
    >>> [round(y, 2) for y in spread_labels([1.0, 1.0, 1.0], 0.1, 0.0, 1.0)]
    [0.8, 0.9, 1.0]
    """
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = [0.0] * len(ys)
    prev = low - gap
    for i in order:
        prev = out[i] = max(ys[i], prev + gap, low)
    nxt = high + gap
    for i in reversed(order):
        nxt = out[i] = min(out[i], nxt - gap)
    return out


def frontier(path: Path, points: Sequence[Point], title: str, x_label: str = "429 responses (count)",
             skipped: Sequence[str] = ()) -> Chart:
    """Efficiency (up: faster) against ``x`` (left: fewer 429s, or a lower burst ratio): the best strategies
    sit in the top-left corner. One marker per strategy in its own colour, filled when compliant, hollow with
    a red ring when not; every point is named in a column right of the plot, joined to it by a thin line, so
    28 names stay legible however the points crowd. A point without an efficiency (not every job done) or
    without ``x`` is not drawn; the chart lists those strategies under the plot.
    """
    plt = _pyplot()
    drawn_pts = [p for p in points if p.efficiency is not None and p.x is not None]
    left_out = [p.strategy for p in points if p not in drawn_pts]
    rows = max(len(drawn_pts), 1)
    h = max(5.0, 0.2 * rows + 1.8)
    fig, ax = plt.subplots(figsize=(11.0, h))
    fig.subplots_adjust(left=0.08, right=0.66, top=1 - 0.8 / h,
                        bottom=(0.85 + 0.15 * bool(left_out or skipped)) / h)
    drawn: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    xs = [float(p.x) for p in drawn_pts if p.x is not None]
    ys = [float(p.efficiency) for p in drawn_pts if p.efficiency is not None]
    span = max(xs, default=1.0)
    if span > 20:  # counts from 0 to thousands: 0, 1 and 1 000 all visible
        ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(-0.05 * max(span, 1.0) if span <= 20 else -0.3, max(span, 1.0) * (1.3 if span > 20 else 1.08))
    y_low = min(0.0, min(ys, default=0.0))
    y_high = max(1.05, max(ys, default=0.0) * 1.05)
    ax.set_ylim(y_low, y_high)
    for p, x, y in zip(drawn_pts, xs, ys, strict=True):
        c = colour(p.strategy)
        ax.plot([x], [y], marker="o", ms=8, color=c, mfc=c if p.compliant else "white", mew=1.6, ls="none",
                gid=p.strategy)
        drawn[p.strategy] = ((x,), (y,))
    bad = [(x, y) for p, x, y in zip(drawn_pts, xs, ys, strict=True) if not p.compliant]
    if bad:
        ax.scatter([x for x, _ in bad], [y for _, y in bad], s=190, facecolors="none", edgecolors=OVER, lw=1.2)
    # Names in a column right of the axes, in data y (so the leader lines are straight), never overlapping.
    gap = (y_high - y_low) / max(rows + 1, (h - 1.8) / 0.2 + 1)
    label_ys = spread_labels(ys, gap, y_low + gap / 2, y_high - gap / 2)
    trans = ax.get_yaxis_transform()  # x in axes fraction, y in data
    for p, x, y, ly in zip(drawn_pts, xs, ys, label_ys, strict=True):
        ax.annotate(_plain(p.strategy) + ("" if p.compliant else "  (not compliant)"), xy=(x, y),
                    xytext=(1.04, ly), textcoords=trans, va="center", ha="left", fontsize=8, color=colour(p.strategy),
                    arrowprops={"arrowstyle": "-", "color": colour(p.strategy), "lw": 0.5, "alpha": 0.6,
                                "shrinkA": 0, "shrinkB": 4})
    ax.set_xlabel(x_label + " — fewer is better (left)" + (", symlog scale" if span > 20 else ""), fontsize=9)
    ax.set_ylabel("efficiency (oracle ÷ actual makespan; 1.0 = as fast as the policy allows)", fontsize=9)
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.tick_params(labelsize=8)
    ax.text(0.01, 0.99, "best: top left", transform=ax.transAxes, ha="left", va="top", fontsize=8, color="#555555")
    note = "filled = compliant, hollow with a red ring = not"
    if left_out:
        note += "; not drawn (not every job done, no efficiency): " + ", ".join(_plain(s) for s in left_out)
    if skipped:
        note += "; skipped (not run): " + ", ".join(_plain(s) for s in skipped)
    fig.text(0.01, 0.1 / h, note, fontsize=7, ha="left", va="bottom", wrap=True)
    fig.suptitle(_plain(title), fontsize=10)
    return _save(fig, path, drawn)


def heatmap(path: Path, strategies: Sequence[str], scenarios: Sequence[str],
            efficiency: Mapping[tuple[str, str], float | None], compliant: Mapping[tuple[str, str], bool],
            title: str) -> Chart:
    """The matrix as one image: a row per strategy (in the given order), a column per scenario, colour =
    efficiency (0 to 1, the value printed in the cell) keyed ``(strategy, scenario)``. A cell whose run was
    not compliant (``compliant`` false or missing) gets a red × in its corner; a cell without an efficiency
    (not every job done) is grey with "–", one without a run at all grey with "no run". Drawn as a single
    image plus one marker collection, however large the matrix.

    ``Chart.series`` maps each strategy to (column index, efficiency or NaN) for the cells drawn.
    """
    plt = _pyplot()
    import numpy as np

    rows, cols = len(strategies), len(scenarios)
    if not rows or not cols:
        raise ValueError("heatmap: needs at least one strategy and one scenario")
    grid = np.full((rows, cols), np.nan)
    for r, s in enumerate(strategies):
        for c, sc in enumerate(scenarios):
            v = efficiency.get((s, sc))
            if v is not None:
                grid[r, c] = v
    w = 2.6 + 0.95 * cols + 1.4
    h = 0.9 + 0.3 * rows + 1.3
    fig, ax = plt.subplots(figsize=(w, h))
    fig.subplots_adjust(left=2.6 / w, right=1 - 1.4 / w, top=1 - 0.9 / h, bottom=1.3 / h)
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
    image = ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, fraction=0.5 / w, pad=0.15 / w)
    bar.set_label("efficiency (1.0 = as fast as the policy allows)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    drawn: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    crossed: list[tuple[int, int]] = []
    for r, s in enumerate(strategies):
        cells = [(c, sc) for c, sc in enumerate(scenarios) if (s, sc) in efficiency]
        drawn[s] = (tuple(float(c) for c, _ in cells), tuple(float(grid[r, c]) for c, _ in cells))
        ran = {c for c, _ in cells}
        for c, sc in enumerate(scenarios):
            v = grid[r, c]
            if c in ran and not compliant.get((s, sc), False):
                crossed.append((c, r))
            text = f"{v:.2f}" if not np.isnan(v) else "–" if c in ran else "no run"
            ax.text(c, r, text, ha="center", va="center", fontsize=7,
                    color="black" if np.isnan(v) or v > 0.6 else "white")
    if crossed:
        # In the cell's top-right corner, white-edged: visible on every colour, the value stays readable.
        ax.scatter([c + 0.36 for c, _ in crossed], [r - 0.22 for _, r in crossed], marker="X", s=70, color=OVER,
                   edgecolors="white", lw=0.6, gid="not compliant", zorder=3)
    ax.set_xticks(range(cols), [_plain(s) for s in scenarios], rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(rows), [_plain(s) for s in strategies], fontsize=8)
    # Labels in dark ink (pale palette colours are unreadable as text); the strategy's colour as a swatch
    # just left of the grid, in axes-x / data-y coordinates so it stays beside its row.
    from matplotlib.transforms import blended_transform_factory

    ax.tick_params(axis="y", pad=16, length=0)
    ax.scatter([-0.03] * rows, range(rows), marker="s", s=28, c=[colour(s) for s in strategies],
               transform=blended_transform_factory(ax.transAxes, ax.transData), clip_on=False,
               edgecolors="#333333", linewidths=0.4, gid="swatches")
    ax.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.0)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(axis="x", top=False)
    ax.set_xlabel("scenario", fontsize=9)
    fig.text(0.01, 0.08 / h, "red × = not compliant in that scenario; grey – = not every job done (no efficiency); "
             "no run = the strategy was not run there (absent, or skipped: see the scenario's report)",
             fontsize=7, ha="left", va="bottom")
    fig.suptitle(_plain(title), fontsize=10)
    return _save(fig, path, drawn)


# --------------------------------------------------------------------------------------------------
# Parameter sweeps (issue 11): the data comes from bench.sweep.


def param_sweep(path: Path, strategy: str, param: str,
                lines: dict[str, list[tuple[float, float, float | None]]], title: str) -> Chart:
    """Two panels against a strategy's parameter: 429s (top) and efficiency (bottom). ``lines`` maps a
    label (the other parameters' values, ``""`` for none) to points ``(value, 429s, efficiency or None)``;
    a withheld efficiency is a hollow marker at 0, not a point on the line.
    """
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.0, 6.4), sharex=True)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.86, bottom=0.09, hspace=0.12)
    drawn: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    for i, (label, pts) in enumerate(lines.items()):
        name = f"{strategy}[{label}]" if label else strategy
        c = _PALETTE[i % len(_PALETTE)] if label else colour(strategy)
        xs = tuple(p[0] for p in pts)
        drawn[f"{name} 429s"] = (xs, tuple(p[1] for p in pts))
        top.plot(xs, [p[1] for p in pts], marker="o", color=c, lw=1.3, label=_plain(name), gid=f"{name} 429s")
        ok = [(p[0], p[2]) for p in pts if p[2] is not None]
        drawn[f"{name} efficiency"] = (tuple(x for x, _ in ok), tuple(float(y) for _, y in ok))
        bottom.plot([x for x, _ in ok], [y for _, y in ok], marker="o", color=c, lw=1.3, gid=f"{name} efficiency")
        withheld = [p[0] for p in pts if p[2] is None]
        if withheld:
            bottom.scatter(withheld, [0.0] * len(withheld), marker="o", facecolors="none", edgecolors=c)
    top.set_ylabel("429 responses", fontsize=9)
    top.set_ylim(bottom=0)
    from matplotlib.ticker import MaxNLocator

    top.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count: no 0.5 of a response
    bottom.set_ylabel("efficiency (oracle / actual)", fontsize=9)
    bottom.set_ylim(0, 1.05)
    bottom.set_xlabel(_plain(param), fontsize=9)
    for ax in (top, bottom):
        ax.grid(True, lw=0.4, alpha=0.5)
        ax.tick_params(labelsize=8)
    if len(lines) > 1:
        top.legend(fontsize=7, frameon=False)
    fig.suptitle(_plain(title), fontsize=9)
    return _save(fig, path, drawn)
