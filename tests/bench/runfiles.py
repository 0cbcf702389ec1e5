"""Run directories written from given arrivals, without running anything: fixtures for the report and
its charts, and the synthetic big runs of ``benchmarks/test_report_speed.py``.

Files are written by :class:`bench.results.RunWriter` and metrics computed by :func:`bench.metrics.compute`,
so a run directory made here has exactly the layout and figures a real run would have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench import metrics, results
from bench.records import Arrival, Attempt
from bench.runner import RunResult
from mock_server import ticks
from strategies.base import Tier

#: One strategy's run: (server arrival time, status) per job, one attempt each, released at 0.
Jobs = Sequence[tuple[float, int]]


def scenario_meta(name: str, quota: Sequence[tuple[int, float]], jobs: int,
                  algorithm: str = "sliding-log",
                  burst: int | None = None) -> tuple[dict[str, object], dict[str, object]]:
    """(scenario as written, scenario as resolved) for results.meta, in the shape the runner gives."""
    q = [{"algorithm": algorithm, "limit": limit, "window_s": window, **({"burst": burst} if burst else {})}
         for limit, window in quota]
    source = {"name": name, "description": f"synthetic: {jobs} jobs", "server": {"quota": q},
              "workload": {"jobs": jobs}}
    resolved = {"name": name, "server": {"quota": q}, "declared": {"tiers": q, "concurrency": 20},
                "workload": {"jobs": jobs, "release": "batch", "rate": None}, "timeout_s": 60.0}
    return source, resolved


def write_run(parent: Path, name: str, quota: Sequence[tuple[int, float]], runs: Mapping[str, Jobs],
              latency_s: float = 0.01, repeat: int = 1, algorithm: str = "sliding-log",
              burst: int | None = None, oracle_s: float | None = None, skipped: Mapping[str, str] = {}) -> Path:
    """A complete run directory under ``parent``: every strategy in ``runs`` (in that order) with
    ``repeat`` identical repeats; each job sent at its arrival time and done ``latency_s`` later. The
    server's tiers are ``algorithm`` (``burst`` for a token bucket); the metrics count sliding windows.
    ``oracle_s``: the oracle's makespan, for an efficiency (else null). ``skipped``: strategy → reason, rows of
    status ``skipped`` (nothing run, as bench.redis_server.skipped writes them), after the others."""
    jobs = max((len(j) for j in runs.values()), default=0)
    source, resolved = scenario_meta(name, quota, jobs, algorithm, burst)
    run_dir = results.new_run_dir(parent, name)
    writer = results.RunWriter(run_dir, results.meta(clock="virtual", transport="asgi", scenario=source,
                                                      resolved=resolved, strategies=[*runs, *skipped],
                                                      repeat=repeat,
                                                      argv=["synthetic"]))
    tiers = [Tier(limit, window) for limit, window in quota]
    for k in range(repeat):
        for strategy, js in runs.items():
            attempts = tuple(Attempt(i, 1, 0.0, t, t, t + latency_s, status, ticks.from_seconds(t))
                             for i, (t, status) in enumerate(js))
            arrivals = tuple(Arrival(f"{i}.1", ticks.from_seconds(t), status) for i, (t, status) in enumerate(js))
            m = metrics.compute(attempts, arrivals, tiers, requests=jobs, cpu_s=None, oracle_makespan_s=oracle_s)
            writer.add(RunResult(strategy, k, "ok", None, attempts, arrivals, m, 0.0))
        for strategy, why in skipped.items():
            m = metrics.compute((), None, tiers, requests=jobs, cpu_s=None, oracle_makespan_s=None)
            writer.add(RunResult(strategy, k, "skipped", why, (), (), m, 0.0))
    writer.finish()
    return run_dir


def paced(n: int, rate: float, start: float = 0.0) -> list[tuple[float, int]]:
    """``n`` jobs arriving evenly at ``rate`` per second, all answered 200."""
    return [(start + i / rate, 200) for i in range(n)]


def big_run(parent: Path, strategies: int, jobs: int, limit: int, window_s: float) -> Path:
    """``strategies`` synthetic strategies of ``jobs`` jobs each against one ``limit`` per ``window_s``
    tier: even pacing at the limit's rate, with every third strategy bursting ``2 L`` at the start and
    answered 429 past ``L``."""
    rate = limit / window_s
    runs: dict[str, Jobs] = {}
    for s in range(strategies):
        js = paced(jobs, rate * (1 + 0.01 * s))
        if s % 3 == 2:
            js = [(0.0, 200 if i < limit else 429) for i in range(min(2 * limit, jobs))] + js[2 * limit:]
        runs[f"synthetic-{s:02d}"] = js
    return write_run(parent, f"big-{jobs}", [(limit, window_s)], runs)
