"""The report's charts, built from a run directory: which charts, from which data, in which order.

Reads ``results.json`` (ranking, scenario, quota), ``arrivals.csv`` (the server's log: burst
accuracy) and ``requests.csv`` (per-job latency), and asks :mod:`bench.plots` to draw. Panels and
legends follow the report's rank order; every chart is of the first repeat of each strategy and says so
when there were more.

>>> title_quota([{"algorithm": "fixed-window", "limit": 20, "window_s": 1.0}])
'20 per 1 s (fixed-window)'
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import report
from bench.records import Attempt
from mock_server import policies, ticks
from mock_server.config import QuotaConfig

if TYPE_CHECKING:  # bench.plots is imported where a chart is drawn: reading a run needs none of it
    from bench.plots import Point, Tier

__all__ = ["BURST", "FRONTIER", "LATENCY", "RULE", "Compliance", "arrival_times", "attempts", "chart_tier",
           "frontier_points", "job_latencies_ms", "policy_rejections", "title_quota", "write_all"]

BURST = "charts/burst.png"
LATENCY = "charts/latency_cdf.png"
FRONTIER = "charts/frontier.png"

#: Whether a ranked row (bench.report.summarise) counts as compliant on the frontier and the heat map.
Compliance = Callable[[dict[str, Any]], bool]


#: What :func:`bench.report.compliant` means, for the charts' titles.
RULE = "compliant = every job done, no arrival the API's own policy rejects"


def frontier_points(rows: Sequence[dict[str, Any]], compliance: Compliance = report.compliant) -> list[Point]:
    """One :class:`bench.plots.Point` per ranked row: efficiency against its 429s (median over repeats)."""
    from bench import plots

    return [plots.Point(str(r["strategy"]), r.get("efficiency"),
                        None if r.get("throttled") is None else float(r["throttled"]), compliance(r)) for r in rows]


def title_quota(quota: Sequence[Mapping[str, Any]]) -> str:
    """The quota as a title states it: every tier, ``+``-joined; ``no quota`` when there is none."""
    if not quota:
        return "no quota"
    return " + ".join(f"{q['limit']}{' tokens' if q.get('unit') == 'tokens' else ''} per {q['window_s']:g} s "
                      f"({q.get('algorithm', 'sliding-log')})" for q in quota)


def _quota_config(q: Mapping[str, Any]) -> QuotaConfig:
    keys = ("algorithm", "limit", "window_s", "burst", "anchor", "name", "unit")
    return QuotaConfig.from_dict({k: q[k] for k in keys if q.get(k) is not None}, "meta.resolved.server.quota")


def chart_tier(q: Mapping[str, Any]) -> Tier:
    """The burst chart's :class:`bench.plots.Tier` for one configured tier, with the most its policy accepts
    in any trailing window: ``L`` (sliding log), ``burst + L − 1`` (token bucket: a full bucket, then one per
    ``W / L``), ``2 L`` as a bound for clock-aligned and first-request windows (any ``W`` spans two of them)
    and the sliding-window counter (each bucket holds at most ``L``).

    >>> chart_tier({"algorithm": "token-bucket", "limit": 10, "window_s": 1.0, "burst": 20}).most
    29
    >>> chart_tier({"algorithm": "fixed-window", "limit": 10, "window_s": 1.0}).exact
    False
    """
    from bench import plots

    c = _quota_config(q)
    if c.algorithm == "sliding-log":
        most, exact = c.limit, True
    elif c.algorithm in ("gcra", "token-bucket"):
        most, exact = (c.burst or c.limit) + c.limit - 1, True
    else:
        most, exact = 2 * c.limit, False
    return plots.Tier(c.limit, c.window_s, c.algorithm, most, exact)


def policy_rejections(times: Sequence[float], q: Mapping[str, Any]) -> list[float] | None:
    """The arrivals (server seconds since run start) that the tier's own policy, fresh at run start and fed
    every arrival in order, would reject; ``None`` where a replay cannot know: clock-aligned windows
    (fixed window anchored to the clock, the sliding-window counter) sit where the server's clock put them,
    which the run directory does not record. One tier alone: with several, the server counts a request only
    when every tier accepts it, so a run with rejections may show a few more here than the server gave.

    >>> policy_rejections([0.0, 0.0, 0.0, 0.5, 1.0], {"algorithm": "sliding-log", "limit": 2, "window_s": 1.0})
    [0.0, 0.5]
    >>> policy_rejections([0.0], {"algorithm": "fixed-window", "limit": 2, "window_s": 1.0}) is None
    True
    """
    c = _quota_config(q)
    if c.algorithm == "sliding-counter" or (c.algorithm == "fixed-window" and c.anchor == "clock"):
        return None
    policy = policies.build_one(c)
    out = []
    for t in sorted(times):
        now = ticks.from_seconds(t)
        if policy.earliest(now) <= now:
            policy.record(now)
        else:
            out.append(t)
    return out


def _rows(path: Path, repeat: int, columns: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
    """(strategy, the named columns) of each row of one repeat: ``csv.reader``, not ``DictReader``,
    which costs a dict per row and was most of the time of a 150 000-row report."""
    with path.open(newline="") as f:
        rows = csv.reader(f)
        header = next(rows, [])
        try:
            s, k, *idx = (header.index(c) for c in ("strategy", "repeat", *columns))
        except ValueError:
            raise ValueError(f"{path}: header {header!r} lacks one of {('strategy', 'repeat', *columns)}") from None
        want = str(repeat)
        for row in rows:
            if row[k] == want:
                yield row[s], [row[i] for i in idx]


def arrival_times(path: Path, repeat: int = 0) -> dict[str, list[float]]:
    """arrivals.csv: per strategy, the server times of one repeat's arrivals."""
    out: dict[str, list[float]] = {}
    with path.open(newline="") as f:
        exact = "t_ns" in next(csv.reader(f), [])
    if exact:  # the server's integer ticks: seconds that round back to the very same ns
        for strategy, (t_ns,) in _rows(path, repeat, ("t_ns",)):
            out.setdefault(strategy, []).append(ticks.to_seconds(int(t_ns)))
        return out
    for strategy, (t,) in _rows(path, repeat, ("t",)):  # a run directory from before integer ticks
        out.setdefault(strategy, []).append(float(t))
    return out


def attempts(path: Path, repeat: int = 0) -> dict[str, list[Attempt]]:
    """requests.csv: per strategy, one repeat's attempts."""
    out: dict[str, list[Attempt]] = {}
    cols = ("job", "attempt", "intended_s", "sent_s", "arrival_s", "done_s", "status")
    for strategy, (job, n, intended, sent, arrival, done, status) in _rows(path, repeat, cols):
        out.setdefault(strategy, []).append(Attempt(int(job), int(n), float(intended), float(sent),
                                                    float(arrival) if arrival else None, float(done), int(status)))
    return out


def job_latencies_ms(attempts: Sequence[Attempt]) -> list[float]:
    """Per job whose final attempt succeeded: final ``done_s − intended_s`` in ms (docs/metrics.md, latency).

    >>> job_latencies_ms([Attempt(0, 1, 0.0, 0.0, 0.0, 0.1, 429), Attempt(0, 2, 0.0, 1.0, 1.0, 1.25, 200),
    ...                   Attempt(1, 1, 0.0, 0.0, 0.0, 0.1, 429)])
    [1250.0]
    """
    final: dict[int, Attempt] = {}
    for a in attempts:
        f = final.get(a.job)
        if f is None or (a.attempt, a.done_s) > (f.attempt, f.done_s):
            final[a.job] = a
    return [(f.done_s - f.intended_s) * 1000.0 for f in final.values() if f.ok]


def write_all(run_dir: Path, doc: Mapping[str, Any], compliance: Compliance = report.compliant,
              rule: str = RULE) -> list[str]:
    """Draw every chart the run supports into ``run_dir/charts``; the relative paths written, in order.
    ``compliance`` decides which points the frontier fills (``rule`` says so in its title)."""
    from bench import plots

    meta = doc["meta"]
    resolved = meta["resolved"]
    quota = resolved["server"]["quota"]
    name = resolved.get("name") or meta["scenario"].get("name", "?")
    every = report.summarise(doc["runs"])
    # Skipped strategies (never run here) have no series: named as skipped, never drawn as "0 % done".
    skipped = [row["strategy"] for row in every if row["status"] == "skipped"]
    rows = [row for row in every if row["status"] != "skipped"]
    order = [row["strategy"] for row in rows]
    repeats = int(meta.get("repeat", 1))
    which = "first repeat of " + str(repeats) if repeats > 1 else "one run each"
    jobs = int(resolved["workload"]["jobs"])
    scenario = f"scenario {name!r}, quota {title_quota(quota)}"
    written: list[str] = []

    firsts = arrival_times(run_dir / "arrivals.csv")
    # Request tiers only: the panels count arrivals, and a token tier's limit counts costs (issue 13), so a
    # token tier drawn here would compare requests with tokens. Its peak is in the table (peak_window_count).
    request_tiers = [q for q in quota if q.get("unit", "requests") == "requests"]
    tiers = [chart_tier(q) for q in request_tiers]
    if tiers and order:
        # Every ranked strategy gets its band, also one that never reached the server ("no arrivals").
        series = [(s, firsts.get(s, [])) for s in order]
        rejected: dict[tuple[str, int], list[float]] = {}
        for c, q in enumerate(request_tiers):
            for s, times in series:
                r = policy_rejections(times, q)
                if r is not None:
                    rejected[(s, c)] = r
        plots.burst_accuracy(run_dir / BURST, series, tiers,
                             f"Burst accuracy — {scenario}\nserver arrivals in the trailing window at each "
                             f"arrival; red = arrivals the tier's policy rejects, amber = over L but legal "
                             f"for this policy\nrank order, {which}", rejected=rejected)
        written.append(BURST)

    firsts_r = attempts(run_dir / "requests.csv")
    if order and jobs > 0:
        lat = [(s, job_latencies_ms(firsts_r.get(s, [])), jobs) for s in order]
        plots.latency_cdf(run_dir / LATENCY, lat,
                          f"Latency from intended send time — {scenario}, {jobs} jobs\n"
                          f"share of jobs done (final attempt 2xx) within x; legend in rank order, {which}",
                          skipped=skipped)
        written.append(LATENCY)

    if rows:
        median = ", medians of " + str(repeats) + " repeats" if repeats > 1 else ""
        plots.frontier(run_dir / FRONTIER, frontier_points(rows, compliance),
                       f"Efficiency against 429s — {scenario}\nbest strategies top left; {rule}{median}",
                       skipped=skipped)
        written.append(FRONTIER)
    from bench import sweep  # parameter sweeps (issue 11): 429s and efficiency against the parameter

    written += sweep.write_charts(run_dir, doc)
    return written
