"""aiolimiter AsyncLimiter(r, 1): r at once, then one per 1/r: 2r − 1 in the first second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiolimiter import AsyncLimiter

from bench.clock import run
from strategies.aiolimiter_bursty import Aiolimiter, limiter_args
from strategies.base import Job, Quota, Tier
from strategies.registry import resolve

# aiolimiter computes wake-ups from float levels; a residue costs one virtual tick (1 µs) now and then
TICKS = 5e-6


async def jobs(n: int) -> AsyncIterator[Job]:
    for i in range(n):
        yield Job(i)


def run_strategy(quota: Quota, n: int) -> list[float]:
    sent: dict[int, float] = {}

    async def send(job: Job) -> httpx.Response:
        sent[job.id] = asyncio.get_running_loop().time()
        return httpx.Response(200)

    run(Aiolimiter(quota).run(jobs(n), send))
    assert sorted(sent) == list(range(n))
    return sorted(sent.values())


def test_registered_under_its_name() -> None:
    assert resolve("aiolimiter") is Aiolimiter
    assert Aiolimiter.description


def test_limiter_10_per_1s_grants_19_in_the_first_second() -> None:
    async def main() -> list[float]:
        limiter, loop, out = AsyncLimiter(10, 1), asyncio.get_running_loop(), []

        async def one() -> None:
            async with limiter:
                out.append(loop.time())

        await asyncio.gather(*(one() for _ in range(30)))
        return out

    times = run(main())
    assert times[:10] == [0.0] * 10
    assert times[10:] == pytest.approx([0.1 * k for k in range(1, 21)], abs=TICKS)
    assert sum(t < 1.0 for t in times) == 19  # 2L − 1
    assert sum(t < 2.0 for t in times) == 29  # then L per second


def test_strategy_first_second_burst() -> None:
    times = run_strategy(Quota((Tier(10, 1.0),)), 40)
    assert times[:10] == [0.0] * 10
    assert sum(t < 1.0 for t in times) == 19
    assert times[10:] == pytest.approx([0.1 * k for k in range(1, 31)], abs=TICKS)


def test_sub_one_rate_stretches_the_period() -> None:
    assert limiter_args(0.5) == (1.0, 2.0)
    assert limiter_args(2.5) == (2.5, 1.0)
    times = run_strategy(Quota((Tier(1, 2.0),)), 4)  # 0.5/s
    assert times == pytest.approx([0.0, 2.0, 4.0, 6.0], abs=TICKS)


def test_without_a_quota_does_not_wait() -> None:
    assert set(run_strategy(Quota(()), 20)) == {0.0}


def test_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        limiter_args(0)
