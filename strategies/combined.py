"""The article's combination, a semaphore and a token bucket, in both orders.

Both strategies use ``asyncio.Semaphore(quota.concurrency)`` and our corrected
:class:`~strategies.token_bucket.TokenBucket` at the declared rate ``r`` with capacity 1 (as the
``token-bucket`` strategy): the semaphore caps requests in flight, the bucket spaces them ``1/r``
apart. The article says the order of the two ``async with`` matters. It does, but only when
responses are uneven:

``semaphore+token-bucket`` (:class:`SemaphoreThenBucket`)::

    async with semaphore:        # a permit first...
        async with bucket:       # ...then a token, and send at once
            await send(job)

The send happens the instant the token is granted, so sends keep the bucket's spacing whatever the
latency: never two within ``1/r``. The cost: a task holds a permit while it queues for a token, so
permits can sit idle behind the bucket (harmless while the bucket is the bottleneck, which is when
it happens).

``token-bucket+semaphore`` (:class:`BucketThenSemaphore`)::

    async with bucket:           # a token first (spent now)...
        async with semaphore:    # ...then wait for a permit
            await send(job)

A token is spent when it is granted, but the request leaves only when a permit frees. While slow
responses hold every permit, tokens keep being handed out to tasks that queue at the semaphore; when
permits free up, those tasks send as fast as the semaphore allows (``concurrency / latency``) until
the backlog of pre-spent tokens is gone. The burst grows with the stall: with a limit of 10 per
second, two 1 s responses give 18 sends in one second, two 3 s responses 38 (see the tests). With
even latency (every response as fast as the next) the two orders give identical timelines.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from strategies.base import Job, Jobs, Send, Strategy, for_each
from strategies.token_bucket import TokenBucket

__all__ = ["BucketThenSemaphore", "SemaphoreThenBucket"]


class _Combined(Strategy):
    #: Burst size of the bucket (1: evenly spaced, the same as the ``token-bucket`` strategy).
    capacity: ClassVar[float] = 1.0

    def _parts(self) -> tuple[asyncio.Semaphore, TokenBucket]:
        return asyncio.Semaphore(self.quota.concurrency), TokenBucket(self.quota.rate, capacity=self.capacity)


class SemaphoreThenBucket(_Combined):
    """Permit, then token: sends keep the bucket's ``1/r`` spacing whatever the latency.

    Configured from the declared quota: ``Semaphore(quota.concurrency)`` outside
    ``TokenBucket(quota.rate, capacity=1)``.

        >>> from bench.dryrun import send_times
        >>> from strategies.base import Quota, Tier
        >>> send_times(SemaphoreThenBucket(Quota((Tier(10, 1.0),), concurrency=2)))
        [0.0, 0.1, 0.2]
    """

    name = "semaphore+token-bucket"
    description = "Semaphore(concurrency) outside a capacity-1 token bucket: sends keep the 1/r spacing"

    async def run(self, jobs: Jobs, send: Send) -> None:
        semaphore, bucket = self._parts()

        async def one(job: Job) -> None:
            async with semaphore, bucket:
                await send(job)

        await for_each(jobs, one)


class BucketThenSemaphore(_Combined):
    """Token, then permit: tokens spent while waiting for a permit turn into bursts after slow responses.

    Configured from the declared quota: ``TokenBucket(quota.rate, capacity=1)`` outside
    ``Semaphore(quota.concurrency)``.
    """

    name = "token-bucket+semaphore"
    description = "capacity-1 token bucket outside Semaphore(concurrency): tokens wait for permits, then burst"

    async def run(self, jobs: Jobs, send: Send) -> None:
        semaphore, bucket = self._parts()

        async def one(job: Job) -> None:
            async with bucket, semaphore:
                await send(job)

        await for_each(jobs, one)
