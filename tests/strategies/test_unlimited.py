"""Unlimited: every job goes out the moment it is released."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from bench.clock import run
from strategies.base import Job, Quota, Tier
from strategies.registry import resolve
from strategies.unlimited import Unlimited


async def jobs(n: int) -> AsyncIterator[Job]:
    for i in range(n):
        yield Job(i)


def test_registered_under_its_name() -> None:
    assert resolve("unlimited") is Unlimited
    assert Unlimited.description


def test_sends_every_job_at_once() -> None:
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
        await Unlimited(Quota((Tier(10, 1.0),), concurrency=5)).run(jobs(200), send)
        return asyncio.get_running_loop().time()

    finished = run(main())
    assert sorted(sent) == list(range(200))
    assert set(sent.values()) == {0.0}  # quota and concurrency cap are ignored
    assert peak == 200
    assert finished == 0.01


def test_a_transport_error_ends_only_that_job() -> None:
    done: list[int] = []

    async def send(job: Job) -> httpx.Response:
        if job.id == 3:
            raise httpx.ConnectError("refused")
        done.append(job.id)
        return httpx.Response(200)

    run(Unlimited(Quota(())).run(jobs(6), send))
    assert sorted(done) == [0, 1, 2, 4, 5]
