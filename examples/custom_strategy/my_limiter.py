"""A user-defined strategy in one file: a fixed-schedule pacer behind a concurrency cap.

Run it against the built-in default scenario, in virtual time (seconds of wall time, deterministic)::

    PYTHONPATH=examples/custom_strategy .venv/bin/python -m bench run \\
        --strategies my_limiter:MyLimiter --clock virtual

or against the real mock server (drop ``--clock virtual``), or side by side with built-ins
(``--strategies my_limiter:MyLimiter,token-bucket,aiolimiter``).

What a strategy must do (see ``strategies/base.py``):

- subclass :class:`strategies.base.Strategy`, set ``name`` and ``description``;
- take its configuration only from ``self.quota``, the API's *declared* quota (``quota.rate`` is
  the binding tier's sustained rate, ``quota.tiers`` every tier, ``quota.concurrency`` the
  client-side cap the scenario allows);
- implement ``async def run(self, jobs, send)``: ``jobs`` is an async iterator of jobs released
  over time, ``send(job)`` makes one HTTP attempt and returns the ``httpx.Response``. Every job
  should be sent (or retried) until the strategy gives up on it;
- read time from the running loop (``loop.time()``), never poll where one timer will do.
"""

from __future__ import annotations

import asyncio
import math

from strategies.base import Job, Jobs, Send, Strategy, for_each


class MyLimiter(Strategy):
    """At most ``quota.concurrency`` in flight, sends on a fixed grid ``MARGIN/r`` apart.

    Why not exactly ``1/r``: a grid exactly at the limit is edge-exact. A timer that fires a little late,
    or a request that spends a little longer on the way, lands two sends in one window at the server
    (docs/fidelity.md): a 5 % margin absorbs the spread this machine's profile measured.

    The order matters (see docs/strategies.md, "semaphore+token-bucket"): the permit is taken
    *before* the time slot is reserved, so a slot is never spent by a task that then waits for a
    permit, and slow responses cannot turn into bursts.

        >>> from bench.dryrun import send_times
        >>> from strategies.base import Quota, Tier
        >>> send_times(MyLimiter(Quota((Tier(4, 1.0),))))
        [0.0, 0.2625, 0.525]
    """

    name = "my-limiter"
    description = "example user strategy: semaphore, then a fixed schedule 5 % slower than 1/r"
    #: Slots are this many times ``1/r`` apart: the safety margin against late timers and network jitter.
    MARGIN = 1.05

    async def run(self, jobs: Jobs, send: Send) -> None:
        loop = asyncio.get_running_loop()
        interval = 0.0 if math.isinf(self.quota.rate) else self.MARGIN / self.quota.rate
        permits = asyncio.Semaphore(self.quota.concurrency)
        next_slot = loop.time()  # the earliest time the next request may leave

        async def one(job: Job) -> None:
            nonlocal next_slot
            async with permits:
                # Reserve a slot (synchronously: no other task runs between the read and the write),
                # then sleep until it. A slot missed while idle is not banked: no catch-up burst.
                slot = max(next_slot, loop.time())
                next_slot = slot + interval
                await asyncio.sleep(slot - loop.time())
                await send(job)

        await for_each(jobs, one)
