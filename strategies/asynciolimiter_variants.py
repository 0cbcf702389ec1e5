"""asynciolimiter's three limiters at the declared rate ``r``: ``Limiter``, ``StrictLimiter``, ``LeakyBucketLimiter``.

All three read the loop clock, park waiters on futures in FIFO order and wake them with one
``loop.call_at`` timer (no polling). They differ in what happens when the timer is late or the
limiter is idle:

``asynciolimiter`` (:class:`Plain`), ``Limiter(r)``: one release per ``1/r`` on a fixed schedule.
A late wake-up (a blocked loop) releases the missed slots at once, capped at ``max_burst=5``: after a
1 s stall at 10/s it lets a clump of 5 through, then resumes the schedule where it was. The clump
comes on top of the schedule, so the second after a stall holds up to ``r + 5`` (15 at 10/s).

``asynciolimiter-strict`` (:class:`Strict`), ``StrictLimiter(r)``: the next release is ``1/r`` after
the *actual* last wake-up: no catch-up ever, and every late timer pushes the whole schedule back
(on a real loop, whose timers fire ~1 ms late, the rate ends below ``r``).

``asynciolimiter-leaky`` (:class:`Leaky`), ``LeakyBucketLimiter(r, capacity=r)``: a leaky bucket of
``r`` requests: ``r`` at once from idle, then one per ``1/r``: ``2r − 1`` in the first second, like
``AsyncLimiter(r, 1)``. (Its default capacity is 10 whatever the rate, hence the explicit
``capacity``; it must be a whole number, so ``max(1, floor(r))``.) After a stall it drains the missed
levels and releases up to ``capacity`` at once.
"""

from __future__ import annotations

import math
from typing import ClassVar, Protocol

from asynciolimiter import LeakyBucketLimiter, Limiter, StrictLimiter

from strategies.base import Job, Jobs, Param, Send, Strategy, for_each

__all__ = ["Leaky", "Plain", "Strict", "leaky_capacity"]


class _Waitable(Protocol):
    async def wait(self) -> None: ...

    def close(self) -> None: ...


def leaky_capacity(rate: float) -> int:
    """The bucket size for ``LeakyBucketLimiter`` at ``rate`` per second: one second's worth, whole.

    >>> leaky_capacity(20), leaky_capacity(2.5), leaky_capacity(0.5)
    (20, 2, 1)
    """
    return max(1, math.floor(rate))


class _Asynciolimiter(Strategy):
    def _limiter(self, rate: float) -> _Waitable:
        raise NotImplementedError

    async def run(self, jobs: Jobs, send: Send) -> None:
        if math.isinf(self.quota.rate):  # no declared quota: nothing to limit
            await for_each(jobs, send)
            return
        limiter = self._limiter(self.quota.rate)

        async def one(job: Job) -> None:
            await limiter.wait()
            await send(job)

        try:
            await for_each(jobs, one)
        finally:
            # Cancels anything still waiting (a run cut short) and the pending wake-up timer.
            limiter.close()


class Plain(_Asynciolimiter):
    """``Limiter(r)`` (``max_burst=5``): fixed ``1/r`` schedule, catch-up clumps of at most 5 after a stall.

        >>> from bench.dryrun import send_times
        >>> from strategies.base import Quota, Tier
        >>> send_times(Plain(Quota((Tier(10, 1.0),))))
        [0.0, 0.1, 0.2]
    """

    name = "asynciolimiter"
    description = "asynciolimiter Limiter(r): one per 1/r on a fixed schedule, catch-up clumps of <= 5"
    params = (Param("max_burst", int, 5, "most missed slots released at once after a late wake-up (library "
                    "default 5)", minimum=1),)
    max_burst: ClassVar[int] = 5

    def _limiter(self, rate: float) -> _Waitable:
        return Limiter(rate, max_burst=self.max_burst)


class Strict(_Asynciolimiter):
    """``StrictLimiter(r)``: each release ``1/r`` after the previous wake-up; no bursts, no catch-up."""

    name = "asynciolimiter-strict"
    description = "asynciolimiter StrictLimiter(r): 1/r after the last release, never a burst (drifts late)"

    def _limiter(self, rate: float) -> _Waitable:
        return StrictLimiter(rate)


class Leaky(_Asynciolimiter):
    """``LeakyBucketLimiter(r, capacity=r)``: ``r`` at once from idle, then ``r`` per second."""

    name = "asynciolimiter-leaky"
    description = "asynciolimiter LeakyBucketLimiter(r, capacity=r): bursts of r, 2r−1 in the first second"

    params = (Param("capacity", int, None, "requests the bucket holds; default one second's worth, "
                    "max(1, floor(r)); the library's own default is 10 whatever the rate", minimum=1),)
    capacity: ClassVar[int | None] = None

    def _limiter(self, rate: float) -> _Waitable:
        capacity = leaky_capacity(rate) if self.capacity is None else self.capacity
        return LeakyBucketLimiter(rate, capacity=capacity)
