"""aiolimiter configured without a burst: ``AsyncLimiter(1, 1/r)``, one request every ``1/r`` seconds.

``AsyncLimiter(max_rate, time_period)`` is a leaky bucket of size ``max_rate`` draining at
``max_rate / time_period`` per second. A size of 1 leaves no room for a burst: a fresh limiter grants
one acquisition at once and the next when the bucket has drained, ``1/r`` later. Same long-run rate
as the bursty ``AsyncLimiter(r, 1)`` (:mod:`strategies.aiolimiter_bursty`), without its ``2r − 1``
first second. (Note the default ``time_period`` is 60 s: ``AsyncLimiter(1)`` would be one per minute.)

It reads the loop clock (``loop.time()``) and wakes waiters with one timer (no polling). Waiters are
woken in arrival order, but a newcomer that finds capacity takes it without queueing. There is no
fixed schedule: the bucket drains from the moment of the last grant and cannot go below empty, so a
grant that comes late (a timer that fires ~1 ms late on a real loop) delays every later one and the
rate ends slightly below ``r`` (in virtual time: a 1 µs tick now and then, from float residues).
"""

from __future__ import annotations

import math

from aiolimiter import AsyncLimiter

from strategies.base import Gate, Gated

__all__ = ["AiolimiterSmooth", "smooth_args"]


def smooth_args(rate: float) -> tuple[float, float]:
    """``(max_rate, time_period)`` for a declared rate of ``rate`` per second: ``(1, 1/rate)``.

    >>> smooth_args(20)
    (1.0, 0.05)
    >>> smooth_args(0.5)
    (1.0, 2.0)
    """
    if not rate > 0:
        raise ValueError(f"rate must be > 0, got {rate!r}")
    return 1.0, 1.0 / rate


class AiolimiterSmooth(Gated):
    """One task per job, each inside ``async with AsyncLimiter(1, 1/r)``: evenly spaced ``1/r`` apart.

    ``r`` is the declared quota's sustained rate (the binding tier's ``limit / window_s``).

        >>> from bench.dryrun import send_times
        >>> from strategies.base import Quota, Tier
        >>> send_times(AiolimiterSmooth(Quota((Tier(4, 1.0),))))
        [0.0, 0.25, 0.5]
    """

    name = "aiolimiter-smooth"
    description = "aiolimiter AsyncLimiter(1, 1/r): one request every 1/r s, no burst"

    def gate(self) -> Gate | None:
        if math.isinf(self.quota.rate):  # no declared quota: nothing to limit
            return None
        return AsyncLimiter(*smooth_args(self.quota.rate))
