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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import report
from bench.records import Attempt
from mock_server import ticks

__all__ = ["BURST", "LATENCY", "arrival_times", "attempts", "job_latencies_ms", "title_quota", "write_all"]

BURST = "charts/burst.png"
LATENCY = "charts/latency_cdf.png"


def title_quota(quota: Sequence[Mapping[str, Any]]) -> str:
    """The quota as a title states it: every tier, ``+``-joined; ``no quota`` when there is none."""
    if not quota:
        return "no quota"
    return " + ".join(f"{q['limit']}{' tokens' if q.get('unit') == 'tokens' else ''} per {q['window_s']:g} s "
                      f"({q.get('algorithm', 'sliding-log')})" for q in quota)


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
    """Per job whose final attempt succeeded: final ``done_s − intended_s`` in ms (DESIGN §4 latency).

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


def write_all(run_dir: Path, doc: Mapping[str, Any]) -> list[str]:
    """Draw every chart the run supports into ``run_dir/charts``; the relative paths written, in order."""
    from bench import plots

    meta = doc["meta"]
    resolved = meta["resolved"]
    quota = resolved["server"]["quota"]
    name = resolved.get("name") or meta["scenario"].get("name", "?")
    order = [row["strategy"] for row in report.summarise(doc["runs"])]
    repeats = int(meta.get("repeat", 1))
    which = "first repeat of " + str(repeats) if repeats > 1 else "one run each"
    jobs = int(resolved["workload"]["jobs"])
    scenario = f"scenario {name!r}, quota {title_quota(quota)}"
    written: list[str] = []

    firsts = arrival_times(run_dir / "arrivals.csv")
    # Request tiers only: the panels count arrivals, and a token tier's limit counts costs (issue 13), so a
    # token tier drawn here would compare requests with tokens. Its peak is in the table (peak_window_count).
    tiers = [plots.Tier(int(q["limit"]), float(q["window_s"]), str(q.get("algorithm", "sliding-log")))
             for q in quota if q.get("unit", "requests") == "requests"]
    if tiers and order:
        # Every ranked strategy gets its band, also one that never reached the server ("no arrivals").
        series = [(s, firsts.get(s, [])) for s in order]
        plots.burst_accuracy(run_dir / BURST, series, tiers,
                             f"Burst accuracy — {scenario}\nserver arrivals in the trailing window at each "
                             f"arrival; red = over the limit\nrank order, {which}")
        written.append(BURST)

    firsts_r = attempts(run_dir / "requests.csv")
    if order and jobs > 0:
        lat = [(s, job_latencies_ms(firsts_r.get(s, [])), jobs) for s in order]
        plots.latency_cdf(run_dir / LATENCY, lat,
                          f"Latency from intended send time — {scenario}, {jobs} jobs\n"
                          f"share of jobs done (final attempt 2xx) within x; legend in rank order, {which}")
        written.append(LATENCY)
    from bench import sweep  # parameter sweeps (issue 11): 429s and efficiency against the parameter

    written += sweep.write_charts(run_dir, doc)
    return written
