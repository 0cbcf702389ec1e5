"""aiolimiter's leaky bucket configured as ``AsyncLimiter(r, 1)``: up to ``r`` per second, in bursts.

``AsyncLimiter(max_rate, time_period)`` lets ``max_rate`` acquisitions through at once and then
drains ``max_rate / time_period`` per second. With ``time_period=1`` a fresh limiter grants ``r`` at
t=0 and one more every ``1/r`` s: ``2r − 1`` in the first second, twice what a sliding-window API
allows. (Its default ``time_period`` is 60 s, so it must be passed explicitly.)
"""

from __future__ import annotations

import math
from typing import ClassVar

from aiolimiter import AsyncLimiter

from strategies.base import Gate, Gated, Param


def limiter_args(rate: float) -> tuple[float, float]:
    """``(max_rate, time_period)`` for a declared rate of ``rate`` per second.

    ``(r, 1)`` for ``r >= 1``. Below 1/s, ``AsyncLimiter(0.5, 1)`` could never grant a whole
    acquisition (``acquire()`` needs ``amount <= max_rate`` and raises ``ValueError`` otherwise), so
    the period is stretched instead: ``(1, 1/r)``, one request per ``1/r`` seconds, same long-run rate.
    A fractional rate above 1 is passed as is (``AsyncLimiter`` takes a float): bursts of
    ``floor(r)``, drained at ``r`` per second.

    >>> limiter_args(10)
    (10.0, 1.0)
    >>> limiter_args(0.5)
    (1.0, 2.0)
    """
    if not rate > 0:
        raise ValueError(f"rate must be > 0, got {rate!r}")
    if rate >= 1:
        return float(rate), 1.0
    return 1.0, 1.0 / rate


class Aiolimiter(Gated):
    """One task per job, each inside ``async with AsyncLimiter(r, 1)``."""

    name = "aiolimiter"
    description = "aiolimiter AsyncLimiter(r, 1): r/s in bursts of r (2r−1 in the first second)"
    params = (
        Param("max_rate", float, None, "acquisitions per time_period (the burst); default limiter_args(r), or "
              "r * time_period when only the period is set", minimum=1),
        Param("time_period", float, None, "seconds to drain max_rate; default limiter_args(r), or max_rate / r "
              "when only max_rate is set (the library's own default is 60)", minimum=1e-3),
    )
    max_rate: ClassVar[float | None] = None
    time_period: ClassVar[float | None] = None

    def gate(self) -> Gate | None:
        if math.isinf(self.quota.rate):  # no declared quota: nothing to limit
            return None
        r = self.quota.rate
        max_rate, period = limiter_args(r)
        if self.max_rate is not None and self.time_period is not None:
            max_rate, period = self.max_rate, self.time_period
        elif self.time_period is not None:
            max_rate, period = max(1.0, r * self.time_period), self.time_period
        elif self.max_rate is not None:
            max_rate, period = self.max_rate, self.max_rate / r
        return AsyncLimiter(max_rate, period)
