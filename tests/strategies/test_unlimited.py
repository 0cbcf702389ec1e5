"""Unlimited: every job goes out the moment it is released."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from bench.clock import run
from strategies.base import Job, Quota, Tier
from strategies.registry import resolve
from strategies.unlimited import Unlimited
from tests.strategies.harness import drive


async def jobs(n: int) -> AsyncIterator[Job]:
    for i in range(n):
        yield Job(i)


def test_registered_under_its_name() -> None:
    assert resolve("unlimited") is Unlimited
    assert Unlimited.description


def test_sends_every_job_at_once() -> None:
    tl = drive(Unlimited(Quota((Tier(10, 1.0),), concurrency=5)), 200, latency=0.01)
    assert sorted(tl.sent) == list(range(200))
    assert set(tl.sent.values()) == {0.0}  # quota and concurrency cap are ignored
    assert tl.peak_in_flight == 200
    assert tl.finished == 0.01


def test_a_transport_error_ends_only_that_job() -> None:
    done: list[int] = []

    async def send(job: Job) -> httpx.Response:
        if job.id == 3:
            raise httpx.ConnectError("refused")
        done.append(job.id)
        return httpx.Response(200)

    run(Unlimited(Quota(())).run(jobs(6), send))
    assert sorted(done) == [0, 1, 2, 4, 5]
