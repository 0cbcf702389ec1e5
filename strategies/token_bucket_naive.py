"""The widely copied article's ``AsyncTokenBucket``, as published, bugs included.

This module is a *subject under test*: the bugs below are deliberate and must not be fixed here
(the corrected bucket is :mod:`strategies.token_bucket`).

- ``capacity = int(rate)``: 0 for any rate below 1/s, so ``acquire()`` never returns; rates such as
  2.5/s are truncated to a burst of 2.
- it reads ``time.monotonic()`` rather than the loop clock;
- it *polls*: while short of a token it sleeps ``1/rate`` and looks again, holding an
  ``asyncio.Lock`` across the sleep, so every other caller queues on the lock;
- the bucket starts full: ``int(rate)`` requests leave at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from types import TracebackType
from typing import ClassVar

from strategies.base import Gate, Gated, Param

__all__ = ["AsyncTokenBucket", "NaiveTokenBucket"]


class AsyncTokenBucket:
    """The article's bucket, verbatim in behaviour (only type hints added). DO NOT FIX: see module doc."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = int(rate)  # BUG (deliberate): 0 when rate < 1
        self.tokens: float = self.capacity
        self.last_refill = time.monotonic()  # BUG (deliberate): not the loop clock
        self.lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed = now - self.last_refill
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.last_refill = now

    async def acquire(self) -> None:
        async with self.lock:
            while self.tokens < 1:
                self._refill()
                if self.tokens < 1:
                    await asyncio.sleep(1 / self.rate)  # BUG (deliberate): polling, lock held
            self.tokens -= 1

    async def __aenter__(self) -> AsyncTokenBucket:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass


class NaiveTokenBucket(Gated):
    """One task per job, each inside ``async with AsyncTokenBucket(r)`` (the article's bucket alone)."""

    name = "token-bucket-naive"
    description = "the article's AsyncTokenBucket as published: int(rate) capacity, polling, time.monotonic"
    params = (Param("capacity", int, None, "tokens the bucket holds (and starts with); default int(rate), as "
                    "published", minimum=1),)
    #: ``None``: the published ``int(rate)``. Set on the bucket after it is built: the class stays as published.
    capacity: ClassVar[int | None] = None

    def gate(self) -> Gate | None:
        if math.isinf(self.quota.rate):  # no declared quota; int(inf) would raise before any request
            return None
        # Built here, inside the run's loop: the published bucket stamps time.monotonic() when created.
        bucket = AsyncTokenBucket(self.quota.rate)
        if self.capacity is not None:
            bucket.capacity = self.capacity
            bucket.tokens = self.capacity  # it starts full, as the published one does
        return bucket
