"""aiolimiter with ``acquire(cost)``: one ``AsyncLimiter`` per declared tier, token tiers take the cost.

``AsyncLimiter(max_rate, time_period)`` is a leaky bucket of size ``max_rate`` draining at
``max_rate / time_period`` per second; ``acquire(amount)`` waits until ``amount`` fits, and raises
``ValueError`` when ``amount > max_rate`` (aiolimiter 1.x). Sized as in
:func:`strategies.token_bucket_weighted.bucket_size`: a request tier ``AsyncLimiter(1, W / L)`` (evenly
spaced); a token tier of capacity ``C = L / 4`` draining ``L − C`` per window, so that no window holds
more than ``L``; a job costing more than ``C`` is clamped to ``C`` (the library cannot take more at
once), which can then overshoot: the built-in ``llm-api`` scenarios keep every cost below ``L / 4``.

The token tiers are acquired first (the long wait), then the request tiers: two separate limiters,
so a job is counted by each at a slightly different instant (aiolimiter has no "take from several at
once"); the request wait that follows a token grant is normally zero.

>>> from bench.dryrun import send_times
>>> from strategies.base import Quota, Tier
>>> send_times(AiolimiterWeighted(Quota((Tier(4, 1.0),))))
[0.0, 0.25, 0.5]
"""

from __future__ import annotations

from aiolimiter import AsyncLimiter

from strategies.base import Job, Jobs, Send, Strategy, for_each
from strategies.token_bucket_weighted import bucket_size

__all__ = ["AiolimiterWeighted"]


class AiolimiterWeighted(Strategy):
    name = "aiolimiter-weighted"
    description = "aiolimiter, one AsyncLimiter per tier; token tiers acquire(cost) (bucket L/4, drains 3L/4 per W)"

    async def run(self, jobs: Jobs, send: Send) -> None:
        tokens: list[AsyncLimiter] = []
        requests: list[AsyncLimiter] = []
        for t in self.quota.tiers:
            capacity, rate = bucket_size(t)
            (tokens if t.unit == "tokens" else requests).append(AsyncLimiter(capacity, capacity / rate))

        async def one(job: Job) -> None:
            for lim in tokens:
                await lim.acquire(min(job.cost, lim.max_rate))
            for lim in requests:
                await lim.acquire()
            await send(job)

        await for_each(jobs, one)
