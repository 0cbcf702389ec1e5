"""Concurrency cap only: ``asyncio.Semaphore(quota.concurrency)`` around each request.

Bounds requests in flight, not requests per second: a fast API answers quickly, the semaphore
frees quickly, and the rate is whatever the latency allows (``concurrency / latency``).
"""

from __future__ import annotations

import asyncio

from strategies.base import Gate, Gated


class SemaphoreOnly(Gated):
    """One task per job, at most ``quota.concurrency`` of them inside ``send`` at once."""

    name = "semaphore"
    description = "asyncio.Semaphore(concurrency) only: caps requests in flight, not their rate"

    def gate(self) -> Gate | None:
        return asyncio.Semaphore(self.quota.concurrency)
