"""Concurrency cap only: ``asyncio.Semaphore(quota.concurrency)`` around each request.

Bounds requests in flight, not requests per second: a fast API answers quickly, the semaphore
frees quickly, and the rate is whatever the latency allows (``concurrency / latency``).
"""

from __future__ import annotations

import asyncio

from strategies.base import Job, Jobs, Send, Strategy, for_each


class SemaphoreOnly(Strategy):
    """One task per job, at most ``quota.concurrency`` of them inside ``send`` at once."""

    name = "semaphore"
    description = "asyncio.Semaphore(concurrency) only: caps requests in flight, not their rate"

    async def run(self, jobs: Jobs, send: Send) -> None:
        semaphore = asyncio.Semaphore(self.quota.concurrency)

        async def one(job: Job) -> None:
            async with semaphore:
                await send(job)

        await for_each(jobs, one)
