"""pyrate-limiter v4 with weights: ``try_acquire_async(name, weight=cost)`` on the token tiers.

One pyrate bucket applies all its ``Rate`` s to every item's weight, so requests and tokens need two
limiters: the token tiers' (``weight=job.cost``), then the request tiers' (``weight=1``), both
in-memory sliding logs with ``buffer_ms=0`` as in :mod:`strategies.pyrate` (clumps of up to ``L`` at
each window edge). A weight above a tier's limit is refused for good (the limiter returns ``False``):
the job is then not sent, and the run reports it as not completed.

>>> from bench.dryrun import send_times
>>> from strategies.base import Quota, Tier
>>> send_times(PyrateWeighted(Quota((Tier(2, 1.0),))), jobs=3)
[0.0, 0.0, 1.001]
"""

from __future__ import annotations

from pyrate_limiter import InMemoryBucket, Limiter

from strategies.base import Job, Jobs, Send, Strategy, for_each
from strategies.pyrate import KEY, pyrate_rates

__all__ = ["PyrateWeighted"]


class PyrateWeighted(Strategy):
    name = "pyrate-weighted"
    description = "pyrate-limiter v4 in-memory sliding logs, token tiers try_acquire_async(weight=cost), buffer_ms=0"

    async def run(self, jobs: Jobs, send: Send) -> None:
        limiters: list[tuple[bool, Limiter, InMemoryBucket]] = []
        for weighted in (True, False):
            tiers = [t for t in self.quota.tiers if (t.unit == "tokens") == weighted]
            if tiers:
                bucket = InMemoryBucket(pyrate_rates(tiers))
                limiters.append((weighted, Limiter(bucket, buffer_ms=0), bucket))

        async def one(job: Job) -> None:
            for weighted, limiter, _ in limiters:
                if not await limiter.try_acquire_async(KEY, weight=job.cost if weighted else 1):
                    return  # more than the tier can ever hold: not sent (counted as not completed)
            await send(job)

        try:
            await for_each(jobs, one)
        finally:
            for _, limiter, bucket in limiters:
                limiter.dispose(bucket)
                limiter.close()
