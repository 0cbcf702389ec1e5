"""A token bucket that takes a job's cost: one GCRA per declared tier, ``n`` tokens at once.

:class:`WeightedBucket` holds one bucket per tier: a request tier's bucket takes 1 token per request,
a token tier's takes the job's cost (:attr:`~strategies.base.Job.cost`). A job goes when *every*
bucket has room, and takes from all of them at that same instant, so a request is never counted by
one tier at one time and sent at another. Waiters are served strictly in FIFO order (one
``asyncio.Lock``), each sleeping on one scheduled wake-up until its tokens are due: no polling.

Sizing, so that no half-open window of a tier ever holds more than its limit ``L``: a bucket of
capacity ``C`` refilled at ``ρ`` per second admits at most ``C + ρW`` units in any window ``W``.

- request tier: ``C = 1``, ``ρ = L / W`` (evenly spaced, like :mod:`strategies.token_bucket`);
- token tier: ``C = L / 4``, ``ρ = (L − C) / W``: a job of up to ``L / 4`` tokens goes at once from
  idle, and the sustained rate is 75 % of the tier's. A job costing more than ``C`` waits until the
  bucket is full and then ``cost − C`` more (it is never refused), and can then exceed the bound by
  ``cost − C``: the built-in ``llm-api`` scenarios keep every cost below ``L / 4``.

>>> from bench.clock import run
>>> from strategies.base import Tier
>>> async def grants() -> list[float]:
...     b, loop, out = WeightedBucket((Tier(100, 1.0, "tokens"),)), asyncio.get_running_loop(), []
...     for cost in (25, 25, 15):   # C = 25, 75 tokens per second
...         await b.acquire(cost)
...         out.append(round(loop.time(), 3))
...     return out
>>> run(grants())
[0.0, 0.333, 0.533]
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from strategies.base import Job, Jobs, Send, Strategy, Tier, for_each

__all__ = ["TokenBucketWeighted", "WeightedBucket", "bucket_size"]


def bucket_size(tier: Tier) -> tuple[float, float]:
    """``(capacity, refill per second)`` for one declared tier (see the module doc).

    >>> bucket_size(Tier(60, 60.0)), bucket_size(Tier(40_000, 60.0, "tokens"))
    ((1.0, 1.0), (10000.0, 500.0))
    """
    if tier.unit == "tokens":
        capacity = max(1.0, tier.limit / 4)
        return capacity, (tier.limit - capacity) / tier.window_s
    return 1.0, tier.rate


class WeightedBucket:
    """One GCRA per tier (``tat``: when that bucket would be full again), taken together."""

    def __init__(self, tiers: Sequence[Tier]) -> None:
        self._buckets = [(t.unit == "tokens", *bucket_size(t)) for t in tiers]
        self._tat = [-math.inf] * len(self._buckets)
        self._lock = asyncio.Lock()

    def _due(self, cost: int) -> float:
        """When every bucket has room for this job: ``tat - (C - n) / ρ`` each."""
        due = -math.inf
        for (weighted, capacity, rate), tat in zip(self._buckets, self._tat, strict=True):
            n = cost if weighted else 1
            due = max(due, tat - (capacity - n) / rate)
        return due

    async def acquire(self, cost: int = 1) -> None:
        """Wait (FIFO) until every tier's bucket holds this job's tokens, then take them all at once."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            # Nobody else takes while we hold the lock, so the due time cannot move: one wake-up.
            due = self._due(cost)
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            now = max(loop.time(), due)  # a timer a tick early is counted at its due time
            for i, (weighted, _, rate) in enumerate(self._buckets):
                n = cost if weighted else 1
                self._tat[i] = max(self._tat[i], now) + n / rate


class TokenBucketWeighted(Strategy):
    """Every job as its own task behind one :class:`WeightedBucket` over all declared tiers: a request
    tier counts 1 per job, a token tier the job's cost."""

    name = "token-bucket-weighted"
    description = ("our token bucket taking n tokens: one GCRA per declared tier (requests count 1, "
                   "token tiers the job's cost), all taken at once, FIFO")

    async def run(self, jobs: Jobs, send: Send) -> None:
        if not self.quota.tiers:
            await for_each(jobs, send)
            return
        bucket = WeightedBucket(self.quota.tiers)

        async def one(job: Job) -> None:
            await bucket.acquire(job.cost)
            await send(job)

        await for_each(jobs, one)
