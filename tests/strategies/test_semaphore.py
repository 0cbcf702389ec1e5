"""Semaphore only: a cap on requests in flight, not on their rate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from bench.clock import run
from strategies.base import Job, Quota, Tier
from strategies.registry import resolve
from strategies.semaphore import SemaphoreOnly


async def jobs(n: int) -> AsyncIterator[Job]:
    for i in range(n):
        yield Job(i)


def test_registered_under_its_name() -> None:
    assert resolve("semaphore") is SemaphoreOnly
    assert SemaphoreOnly.description


def test_never_exceeds_the_concurrency_cap() -> None:
    sent: dict[int, float] = {}
    in_flight = peak = 0

    async def send(job: Job) -> httpx.Response:
        nonlocal in_flight, peak
        sent[job.id] = asyncio.get_running_loop().time()
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200)

    async def main() -> float:
        await SemaphoreOnly(Quota((Tier(10, 1.0),), concurrency=3)).run(jobs(10), send)
        return asyncio.get_running_loop().time()

    finished = run(main())
    assert sorted(sent) == list(range(10))
    assert peak == 3
    # waves of 3 every 10 ms: the rate is concurrency / latency = 300/s, whatever the quota says
    times = sorted(sent.values())
    assert times == [0.0] * 3 + [0.01] * 3 + [0.02] * 3 + [0.03]
    assert finished == 0.04
