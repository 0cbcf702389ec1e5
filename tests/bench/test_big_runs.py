"""Big runs: nothing allocated per job up front, and a big release at once neither stalls nor overruns the bound."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import pytest

from bench import clock, scenarios, transport
from bench.runner import run_one
from bench.scenarios import Workload
from bench.transport import DEFAULT_LIMITS, AsgiServer, RealServer
from strategies.base import Jobs, Send, Strategy
from strategies.registry import resolve


def test_release_times_of_ten_million_jobs_are_generated_lazily() -> None:
    tracemalloc.start()
    try:
        it = Workload(10**7, "rate", 1000.0).iter_release_times()
        first = [next(it) for _ in range(3)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first == [0.0, 0.001, 0.002]
    assert peak < 64 * 1024  # a list of 10⁷ floats would be ~320 MB


class TakesFive(Strategy):
    """Sends the first five jobs of a 10⁷-job workload, then stops: the run must not pay for the rest."""

    name = "takes-five"
    description = "five jobs, then stop"

    async def run(self, jobs: Jobs, send: Send) -> None:
        async for job in jobs:
            await send(job)
            if job.id == 4:
                return


def test_a_ten_million_job_workload_costs_nothing_before_it_is_used() -> None:
    sc = scenarios.from_dict({"workload": {"jobs": 10**7, "release": "rate", "rate": 1000}}, "huge")
    tracemalloc.start()
    try:
        r = clock.run(run_one(TakesFive, sc, AsgiServer()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status == "ok" and len(r.attempts) == 5 and r.metrics.requests == 10**7
    assert peak < 20 * 1024 * 1024  # the release schedule alone, as a list, would be ~320 MB


@pytest.mark.realserver
def test_fifteen_hundred_jobs_at_once_finish_within_the_harness_bound() -> None:
    # Real sockets, 1 500 jobs released at once, 50 ms service: the harness keeps at most its client's
    # 1 000 connections in flight (the server's own count says so) and does not stall (status ok, all done).
    sc = scenarios.from_dict({"server": {"latency_ms": 50}, "workload": {"jobs": 1500},
                              "client": {"concurrency": 1500, "timeout_s": 60}}, "burst")
    with RealServer() as server:
        r = asyncio.run(run_one(resolve("unlimited"), sc, server))
    assert r.status == "ok" and r.metrics.succeeded == 1500
    assert DEFAULT_LIMITS.max_connections is not None
    assert 1 < r.metrics.peak_concurrency <= DEFAULT_LIMITS.max_connections


def _traced(jobs: int) -> tuple[int, int]:
    """Bytes a virtual worker-pool run of ``jobs`` leaves allocated while its result is held, and its peak."""
    sc = scenarios.from_dict({"server": {"latency_ms": 0}, "workload": {"jobs": jobs, "release": "batch"},
                              "client": {"concurrency": 100, "timeout_s": 3600}}, f"mem-{jobs}")
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        r = clock.run(run_one(resolve("worker-pool"), sc, AsgiServer()))
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status == "ok" and r.metrics.succeeded == jobs and len(r.attempts) == len(r.arrivals) == jobs
    return held - base, peak - base


def test_memory_per_job_is_a_small_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    # N and 4N jobs: what the 3N more cost, per job. A run keeps its records as columns (bench.columns):
    # 61 bytes an attempt + 52 an arrival = 113 (arrays over-allocate up to 1/8). Records as objects cost
    # ~350 bytes a job held (an Attempt, an Arrival, their floats, the id string) and ~930 at the peak.
    # The peak also holds, in-process (virtual mode), the mock server's own log, ~180 bytes an arrival
    # (mock_server.log.RECORD_BYTES + the id); small log pages keep the JSON read out of the per-job figure.
    monkeypatch.setattr(transport, "LOG_PAGE", 500)
    n = 1500
    held_1, peak_1 = _traced(n)
    held_4, peak_4 = _traced(4 * n)
    per_job_held = (held_4 - held_1) / (3 * n)
    per_job_peak = (peak_4 - peak_1) / (3 * n)
    assert per_job_held < 160, per_job_held
    assert per_job_peak < 500, per_job_peak
