"""Semaphore only: a cap on requests in flight, not on their rate."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strategies.base import Job, Quota, Tier
from strategies.registry import resolve
from strategies.semaphore import SemaphoreOnly
from tests.strategies.harness import drive


async def jobs(n: int) -> AsyncIterator[Job]:
    for i in range(n):
        yield Job(i)


def test_registered_under_its_name() -> None:
    assert resolve("semaphore") is SemaphoreOnly
    assert SemaphoreOnly.description


def test_never_exceeds_the_concurrency_cap() -> None:
    tl = drive(SemaphoreOnly(Quota((Tier(10, 1.0),), concurrency=3)), 10, latency=0.01)
    assert sorted(tl.sent) == list(range(10))
    assert tl.peak_in_flight == 3
    # waves of 3 every 10 ms: the rate is concurrency / latency = 300/s, whatever the quota says
    assert tl.times == [0.0] * 3 + [0.01] * 3 + [0.02] * 3 + [0.03]
    assert tl.finished == 0.04
