"""The report's charts, built from a run directory: which charts, from which data, in which order.

Reads ``results.json`` (ranking, scenario, quota), ``arrivals.csv`` (the server's log: burst
accuracy) and ``requests.csv`` (per-job latency), and asks :mod:`bench.plots` to draw. Panels and
legends follow the report's rank order; every chart is of the first repeat of each strategy and says so
when there were more.

>>> title_quota([{"algorithm": "fixed-window", "limit": 20, "window_s": 1.0}])
'20 per 1 s (fixed-window)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import report, results
from bench.records import Attempt

__all__ = ["BURST", "LATENCY", "job_latencies_ms", "title_quota", "write_all"]

BURST = "charts/burst.png"
LATENCY = "charts/latency_cdf.png"


def title_quota(quota: Sequence[Mapping[str, Any]]) -> str:
    """The quota as a title states it: every tier, ``+``-joined; ``no quota`` when there is none."""
    if not quota:
        return "no quota"
    return " + ".join(f"{q['limit']} per {q['window_s']:g} s ({q.get('algorithm', 'sliding-log')})" for q in quota)


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

    arrivals = results.read_arrivals(run_dir / "arrivals.csv")
    firsts = {s: log for (s, k), log in arrivals.items() if k == 0}
    tiers = [plots.Tier(int(q["limit"]), float(q["window_s"]), str(q.get("algorithm", "sliding-log")))
             for q in quota]
    if tiers and firsts:
        series = [(s, [a.t for a in firsts[s]]) for s in order if s in firsts]
        plots.burst_accuracy(run_dir / BURST, series, tiers,
                             f"Burst accuracy — {scenario}\nserver arrivals in the trailing window at each "
                             f"arrival; red = over the limit\nrank order, {which}")
        written.append(BURST)

    requests = results.read_requests(run_dir / "requests.csv")
    firsts_r = {s: atts for (s, k), atts in requests.items() if k == 0}
    if firsts_r and jobs > 0:
        lat = [(s, job_latencies_ms(firsts_r[s]), jobs) for s in order if s in firsts_r]
        plots.latency_cdf(run_dir / LATENCY, lat,
                          f"Latency from intended send time — {scenario}, {jobs} jobs\n"
                          f"share of jobs done (final attempt 2xx) within x; legend in rank order, {which}")
        written.append(LATENCY)
    return written
