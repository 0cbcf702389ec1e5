"""Dry runs: a strategy's send schedule for a few jobs released at once, in virtual time, no server.

For docstring examples, and for a first look at your own strategy before a real run::

    >>> from strategies.base import Quota, Tier
    >>> from strategies.token_bucket import CorrectedTokenBucket
    >>> send_times(CorrectedTokenBucket(Quota((Tier(4, 1.0),))))
    [0.0, 0.25, 0.5]
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from bench import clock
from strategies.base import Job, Strategy

__all__ = ["send_times"]


def send_times(strategy: Strategy, jobs: int = 3) -> list[float]:
    """When ``strategy`` sends each of ``jobs`` jobs (all released at t=0), in virtual seconds.

    Every send is answered 200 at once. Times are rounded to the virtual clock's microsecond.
    """
    sent: list[float] = []

    async def released() -> AsyncIterator[Job]:
        for i in range(jobs):
            yield Job(i)

    async def send(job: Job) -> httpx.Response:
        sent.append(round(asyncio.get_running_loop().time(), 6))
        return httpx.Response(200)

    clock.run(strategy.run(released(), send))
    return sent
