"""Big runs: nothing allocated per job up front, and a big release at once neither stalls nor overruns the bound."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from bench import clock, scenarios
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
