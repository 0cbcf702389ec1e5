"""aiometer: ``run_on_each(..., max_at_once=concurrency, max_per_second=r)`` over the released jobs.

aiometer paces the *starts* of tasks: its rate meter is a GCRA with one start per period (``1/r``,
no burst), its concurrency meter an anyio semaphore held until the task returns. It reads the loop
clock through anyio (``anyio.current_time()`` is ``loop.time()``) and sleeps until the next slot
(no polling).

**aiometer 1.0 has no async-iterable input.** ``run_on_each`` and ``amap`` take a ``Sequence``:
``run_on_each`` iterates it with a plain ``for`` (lazily, one item per start), ``amap`` also calls
``len()``. Our jobs arrive as an async iterator, released over time. Two obvious adaptations are
wrong: collecting every job first delays all of them until the last release; one ``run_on_each``
call per batch of released jobs starts each call with fresh meters (its first task starts at once,
however recently the previous call started one) and waits for the previous call's tasks to finish.

So: **one** ``run_on_each`` call for the whole run, over a lazy iterable of *slots*. A pump task moves
released jobs into a deque; aiometer starts slots at its pace, and each slot takes the oldest
released job when it starts. A batch (every job released at once, the default workloads) is exactly
aiometer's own behaviour: one start every ``1/r`` from t=0, at most ``concurrency`` running. When an
open-loop stream leaves aiometer with nothing to start, a slot that finds no job is a no-op, and
aiometer still counts it: while idle it ticks once per ``1/r`` (a poll forced by the synchronous
iteration: the iterator cannot wait for the next release), and a job released during the idle spell
leaves at the next slot, up to ``1/r`` after its release, where a stream-aware GCRA would start it at
once. (Driving aiometer's private ``aiometer._impl.meters`` from our own loop would avoid that, at
the price of depending on internals.) With no declared quota there is no rate meter and a slot that
finds no job waits for one instead, so ``max_at_once`` alone bounds the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Iterator, Sequence
from typing import cast

import aiometer
import httpx

from strategies.base import Job, Jobs, Send, Strategy

__all__ = ["Aiometer"]


class Aiometer(Strategy):
    """``aiometer.run_on_each(slot, slots, max_at_once=quota.concurrency, max_per_second=quota.rate)``.

    ``quota.rate`` is the binding tier's ``limit / window_s``; starts are spaced ``1/r`` apart, never
    two in one interval, and at most ``quota.concurrency`` requests are in flight.

        >>> from bench.dryrun import send_times
        >>> from strategies.base import Quota, Tier
        >>> send_times(Aiometer(Quota((Tier(5, 1.0),))))
        [0.0, 0.2, 0.4]
    """

    name = "aiometer"
    description = "aiometer run_on_each(max_at_once=concurrency, max_per_second=r): one start per 1/r"

    async def run(self, jobs: Jobs, send: Send) -> None:
        loop = asyncio.get_running_loop()
        rate = None if math.isinf(self.quota.rate) else self.quota.rate
        released: deque[Job] = deque()
        done = False
        # Slots handed to aiometer that have not started yet: each will take one released job.
        unstarted = 0
        # Without a rate meter, slots wait for a release (no busy loop of empty slots).
        waiting: deque[asyncio.Future[None]] = deque()

        def wake(everyone: bool) -> None:
            while waiting:
                fut = waiting.popleft()
                if not fut.done():
                    fut.set_result(None)
                    if not everyone:
                        return

        async def pump() -> None:
            nonlocal done
            try:
                async for job in jobs:
                    released.append(job)
                    wake(everyone=False)
            finally:
                done = True
                wake(everyone=True)

        def slots() -> Iterator[None]:
            # aiometer pulls one slot per start; stop once every released job has a slot coming.
            nonlocal unstarted
            while len(released) > unstarted or not done:
                unstarted += 1
                yield None

        async def slot(_: None) -> None:
            nonlocal unstarted
            unstarted -= 1
            if rate is None:
                while not released and not done:
                    fut = loop.create_future()
                    waiting.append(fut)
                    await fut
            if not released:
                return  # an idle slot: nothing was released in time for it
            job = released.popleft()
            # A transport error ends this job only (the harness recorded it), as in for_each.
            with contextlib.suppress(httpx.TransportError):
                await send(job)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(pump())
            await aiometer.run_on_each(
                slot,
                # run_on_each only iterates ``args`` (``for index, value in enumerate(args)``), one
                # item per start, so a lazy iterator is fine; it is typed Sequence because amap()
                # calls len().
                cast(Sequence[None], slots()),
                max_at_once=self.quota.concurrency,
                max_per_second=rate,
            )
