"""asyncio-throttle: ``Throttler(rate_limit=r, period=1.0)``, a polling sliding log.

``Throttler`` keeps the ``time.monotonic()`` of every acquisition in the last ``period`` seconds.
``acquire()`` drops entries older than ``period`` (strictly: an entry leaves when
``now - t > period``), passes if fewer than ``rate_limit`` remain, and otherwise sleeps
``retry_interval`` (10 ms) and looks again. Consequences, all pinned by the tests:

- a burst of ``rate_limit`` at once, then nothing until the first entry expires: releases come in
  clumps of ``rate_limit`` at the window edges, each ``period + retry_interval`` after the last
  (``0, 1.01, 2.02, …`` for ``period=1``): never over the limit in any window, a little under ``r``;
- every waiter polls on its own every 10 ms (100 wake-ups per waiter per second: CPU grows with the
  queue), and whichever waiter polls first after an expiry wins: no FIFO guarantee;
- it reads ``time.monotonic()``, not the loop clock (under the virtual loop ``bench.clock`` patches it).

``rate_limit`` is annotated ``int`` and compared with a count, so a fractional ``r`` is not usable
directly (``Throttler(0.5, 1.0)`` lets one through per second: ``0 < 0.5``), and ``r`` per second in
clumps does not always fit a longer declared window (5 per 2 s is 2.5/s; ``Throttler(2, 0.8)`` puts 2
at 0, 0.81 and 1.62: 6 in 2 s). :func:`throttler_args` picks the largest whole clump ``n <= r`` that
fits every declared tier, with ``period = n / r``: the long-run rate stays exactly ``r``, and for the
usual one-second tiers it is ``Throttler(r, 1.0)``.
"""

from __future__ import annotations

import math
from typing import ClassVar

from asyncio_throttle.throttler import Throttler

from strategies.base import Gate, Gated, Param, Quota

__all__ = ["Throttle", "throttler_args"]


def throttler_args(quota: Quota) -> tuple[int, float]:
    """``(rate_limit, period)`` for the declared quota: clumps of ``n`` every ``n / r`` seconds.

    ``n`` is the largest whole number ``<= r`` such that clumps of ``n``, ``n / r`` apart, never put
    more than ``L`` in a window ``W`` of any declared tier: ``n * ceil(W * r / n) <= L``. ``n = 1``
    always fits (``W * r <= L``), so there is always an answer.

    >>> from strategies.base import Tier
    >>> throttler_args(Quota((Tier(20, 1.0),)))
    (20, 1.0)
    >>> throttler_args(Quota((Tier(5, 2.0),)))  # 2.5/s: clumps of 2 would put 6 in 2 s
    (1, 0.4)
    >>> throttler_args(Quota((Tier(10, 1.0), Tier(300, 60.0))))  # 5/s, the minute binds
    (5, 1.0)
    >>> throttler_args(Quota((Tier(1, 2.0),)))
    (1, 2.0)
    """
    r = quota.rate
    if not (r > 0 and math.isfinite(r)):
        raise ValueError(f"the quota must declare a finite rate > 0, got {r!r}")

    def fits(n: int) -> bool:
        # 1e-9: W * r is L up to float rounding (60 * (100 / 60) is 100.00000000000001)
        return all(n * math.ceil(t.window_s * r / n - 1e-9) <= t.limit for t in quota.tiers)

    n = next(n for n in range(max(1, math.floor(r)), 0, -1) if fits(n))
    return n, n / r


class Throttle(Gated):
    """One task per job, each inside ``async with Throttler(n, n / r)`` (see :func:`throttler_args`).

    ``r`` is the declared quota's sustained rate (the binding tier's ``limit / window_s``); for a
    one-second tier of ``L`` that is ``Throttler(L, 1.0)``.

        >>> from bench.dryrun import send_times
        >>> from strategies.base import Quota, Tier
        >>> send_times(Throttle(Quota((Tier(2, 1.0),))), jobs=4)
        [0.0, 0.0, 1.01, 1.01]
    """

    name = "asyncio-throttle"
    description = "asyncio-throttle Throttler(r, 1.0): polling sliding log, clumps of r at window edges"
    params = (
        Param("rate_limit", int, None, "acquisitions per period; default: throttler_args(quota), or "
              "floor(r * period) when only the period is set", minimum=1),
        Param("period", float, None, "seconds of the sliding log; default: throttler_args(quota), or rate_limit / r "
              "when only rate_limit is set (the library's own default is 1.0)", minimum=1e-3),
        Param("retry_interval", float, 0.01, "seconds between polls of a waiter (library default 0.01)",
              minimum=1e-4),
    )
    rate_limit: ClassVar[int | None] = None
    period: ClassVar[float | None] = None
    retry_interval: ClassVar[float] = 0.01

    def gate(self) -> Gate | None:
        if math.isinf(self.quota.rate):  # no declared quota: nothing to limit
            return None
        limit, period = throttler_args(self.quota)
        r = self.quota.rate
        if self.rate_limit is not None and self.period is not None:
            limit, period = self.rate_limit, self.period
        elif self.period is not None:  # the long-run rate stays at most r
            limit, period = max(1, math.floor(r * self.period + 1e-9)), self.period
        elif self.rate_limit is not None:
            limit, period = self.rate_limit, self.rate_limit / r
        return Throttler(rate_limit=limit, period=period, retry_interval=self.retry_interval)
