"""The article's full stack in one strategy, composed from the pieces the other strategies use.

From the outside in, per job::

    breaker (purgatory, outside the retries)           strategies.breaker_purgatory.PurgatoryAdapter
      └ retries with backoff, honouring Retry-After      strategies.retry_policy (use_reset=True)
          └ per attempt: semaphore(concurrency)          asyncio.Semaphore
              └ rate limiter: TokenBucket(r, capacity 1) ┐ strategies.adaptive_headers.HeaderPacer
              └ adaptive pacing from the headers         ┘ (checks the header gate before and after
                  └ send                                   taking the token, so no burst at a reset)
    pool: httpx.Limits(max_connections=concurrency)      (real server only; ASGI has no pool)

Everything is configured from the declared quota: ``r = quota.rate``, ``quota.concurrency``; the
constants are the shared ones (6 attempts, 0.5 s × 2^n ±25 %, breaker 5 failures / 10 s).

    strategy = Layered(quota)          # strategy.client_limits is set for the harness's client
    await strategy.run(jobs, send)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

import httpx

from strategies.adaptive_headers import HeaderPacer, pacer_counters
from strategies.base import Job, Quota, Send
from strategies.breaker_purgatory import PurgatoryAdapter
from strategies.breaking import Breaker, BreakerStrategy
from strategies.retry_policy import RetryPolicy

__all__ = ["Layered"]


class Layered(BreakerStrategy):
    """Pool limits → semaphore → token bucket at r → header pacing → retries → purgatory breaker."""

    name = "layered"
    description = ("full stack: pool limits, semaphore, token bucket at r, header pacing, retries "
                   "honouring Retry-After, purgatory breaker outside the retries")
    policy: ClassVar[RetryPolicy] = RetryPolicy(use_reset=True)
    pacer: HeaderPacer | None = None  # the last run's, for counters()

    def counters(self) -> dict[str, int]:
        return pacer_counters(self.pacer)

    def __init__(self, quota: Quota) -> None:
        super().__init__(quota)
        c = quota.concurrency
        self.client_limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)

    def make_breaker(self) -> Breaker:
        return PurgatoryAdapter(self.fail_max, self.cooldown_s)

    def make_attempt(self, send: Send) -> Callable[[Job], Awaitable[httpx.Response]]:
        semaphore = asyncio.Semaphore(self.quota.concurrency)
        pacer = self.pacer = HeaderPacer(self.quota.rate)

        async def attempt(job: Job) -> httpx.Response:
            async with semaphore:
                return await pacer.send(send, job)

        return attempt
