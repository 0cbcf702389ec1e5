"""Retry only: a concurrency cap plus retries with exponential backoff, honouring ``Retry-After``.

The classic "just retry" client: no rate limiter at all. Every job starts the moment it is released;
at most ``quota.concurrency`` attempts are in flight (a semaphore held for the request only, not
during the backoff sleep); a throttled or failed attempt is retried by :class:`RetryPolicy`
(6 attempts, 0.5 s × 2^n ±25 % jitter from a seeded ``random.Random``, ``Retry-After`` honoured
exactly). It learns the rate the hard way: every 429 is a request the server had to refuse.

    strategy = RetryBackoff(quota)
    await strategy.run(jobs, send)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from strategies.base import Job, Jobs, Send, for_each
from strategies.retry_policy import Retrying, call_with_retries


class RetryBackoff(Retrying):
    """One task per job behind ``Semaphore(quota.concurrency)``; retries per :attr:`policy`.

    Exactly one ``random.Random(seed)`` per strategy instance, drawn in the order retries happen, so
    a run under the virtual clock is reproducible.
    """

    name = "retry-backoff"
    description = ("no limiter: concurrency cap + retry 429/5xx with backoff 0.5 s×2^n ±25 % "
                   "(6 attempts), Retry-After honoured exactly")

    async def run(self, jobs: Jobs, send: Send) -> None:
        semaphore = asyncio.Semaphore(self.quota.concurrency)

        async def attempt(job: Job) -> httpx.Response:
            async with semaphore:
                return await send(job)

        async def one(job: Job) -> None:
            await self.call(attempt, job)

        await for_each(jobs, one)

    async def call(self, attempt: Callable[[Job], Awaitable[httpx.Response]], job: Job) -> httpx.Response:
        """One job's attempts under :attr:`policy` (the piece :mod:`strategies.tenacity_retry` swaps)."""
        return await call_with_retries(lambda: attempt(job), self.policy, self.rng)
