"""A fixed pool of ``concurrency`` workers pulling from a bounded queue, paced by one shared token bucket.

::

    producer ──put (waits while full)──► Queue(maxsize = 2 × workers) ──get──► worker × concurrency
                                                                              └─ async with bucket: send

- **Concurrency** is the number of workers: at most ``quota.concurrency`` requests in flight, by
  construction (no semaphore). Only ``concurrency`` tasks ever exist, however many jobs there are,
  where ``for_each`` strategies create one task per job up front.
- **Rate**: every worker takes a token from one shared
  :class:`~strategies.token_bucket.TokenBucket` at the declared rate ``r``, capacity 1, right before it
  sends: sends are ``1/r`` apart, and a worker waiting for a token already holds its "permit" (it
  *is* one), like ``semaphore+token-bucket``: slow responses cannot turn into bursts.
- **Backpressure**: the producer awaits ``queue.put`` and so stops pulling jobs from the iterator
  while the queue is full: at most ``workers + maxsize + 1`` jobs are ever taken from the workload
  ahead of being sent (the one the producer holds). Release times are unaffected (each job keeps its
  scheduled ``release_s``; latency is measured from it), so the backlog shows up as queue wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import ClassVar

import httpx

from strategies.base import Job, Jobs, Send, Strategy
from strategies.token_bucket import TokenBucket

__all__ = ["WorkerPool"]


class WorkerPool(Strategy):
    """``quota.concurrency`` workers, ``Queue(maxsize=2 × workers)``, one ``TokenBucket(r, capacity=1)``.

        >>> from bench.dryrun import send_times
        >>> from strategies.base import Quota, Tier
        >>> send_times(WorkerPool(Quota((Tier(10, 1.0),), concurrency=2)), jobs=4)
        [0.0, 0.1, 0.2, 0.3]
    """

    name = "worker-pool"
    description = "concurrency workers on a bounded queue (2× workers), one shared capacity-1 token bucket"
    #: Queue slots per worker: enough that a worker never waits on the producer, small enough to bound
    #: how many jobs are pulled ahead of being sent.
    queue_per_worker: ClassVar[int] = 2

    async def run(self, jobs: Jobs, send: Send) -> None:
        workers = self.quota.concurrency
        bucket = TokenBucket(self.quota.rate, capacity=1)
        queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=self.queue_per_worker * workers)

        async def worker() -> None:
            while (job := await queue.get()) is not None:
                await bucket.acquire()
                # A transport error ends this job only (the harness recorded it), as in for_each.
                with contextlib.suppress(httpx.TransportError):
                    await send(job)

        async with asyncio.TaskGroup() as tg:
            for _ in range(workers):
                tg.create_task(worker())
            async for job in jobs:
                await queue.put(job)  # backpressure: waits while the queue is full
            for _ in range(workers):
                await queue.put(None)  # one stop signal per worker, after every job
