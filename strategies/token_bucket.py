"""A corrected asyncio token bucket: loop clock, FIFO waiters, one timer, no polling.

:class:`TokenBucket` holds up to ``capacity`` tokens and refills at ``rate`` tokens per second;
``acquire()`` takes one, waiting for it if necessary::

    bucket = TokenBucket(10)            # 10 per second, bursts of up to 10
    async with bucket:                  # same as: await bucket.acquire()
        await send(job)

What it fixes, compared with the published bucket in :mod:`strategies.token_bucket_naive`:

- it reads only the running loop's clock (``loop.time()``), never ``time.monotonic()``;
- waiters park on futures in a FIFO queue and **one** ``loop.call_at`` timer wakes the head waiter
  exactly when its token is due: no ``sleep`` polling, no lock held across a sleep;
- capacity is at least one token, so rates below 1/s work (``int(0.5) == 0`` never grants);
- refill is capped at ``capacity`` while idle, so an idle bucket bursts at most ``capacity``;
- strict FIFO: a newcomer never takes a token while anyone is queued;
- cancelling a waiter loses no capacity and delays nobody: its token goes to the next in line, even
  when the cancellation lands after the token was granted but before the waiter resumed.

The state is a GCRA-style *theoretical arrival time* ``tat`` (when the bucket would be full again)
instead of a float token count. A token is counted from the instant it is really handed out: when a
timer fires late (asyncio rounds epoll timeouts up to a whole millisecond), the next grant still
comes a full ``1/rate`` later, so two sends are never closer than the rate allows — the schedule
slips by the lateness instead. (Granting late tokens "at their slot" keeps the long-run rate exact
but lets a late send and an on-time one share a window: in real runs against a sliding log at
exactly the declared rate that cost 8 of 200 requests a 429.) A stalled loop never turns into a
catch-up burst. Under the virtual loop (``bench.clock``) grants land exactly on slots.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from types import TracebackType
from typing import ClassVar

from strategies.base import Gate, Gated, Param

__all__ = ["CorrectedTokenBucket", "TokenBucket"]

# A slot within this much of "now" is due: asyncio itself runs timers up to its clock resolution
# early (the virtual loop's resolution is 1 µs), so waiting for the exact float would cost a re-arm.
_DUE_SLACK_S = 1e-6


class TokenBucket:
    """Up to ``capacity`` tokens, refilled at ``rate`` per second; FIFO waiters, one wake-up timer.

    ``capacity`` defaults to ``max(1, rate)`` (one second's worth, at least one token); it must be
    at least 1 and may be fractional. ``rate`` may be ``math.inf`` (never waits).

        >>> from bench.clock import run
        >>> async def grants() -> list[float]:
        ...     bucket, loop, out = TokenBucket(2, capacity=1), asyncio.get_running_loop(), []
        ...     for _ in range(3):
        ...         async with bucket:
        ...             out.append(loop.time())
        ...     return out
        >>> run(grants())
        [0.0, 0.5, 1.0]
    """

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 tokens per second, got {rate!r}")
        if capacity is None:
            capacity = 1.0 if math.isinf(rate) else max(1.0, float(rate))
        if not (capacity >= 1 and math.isfinite(capacity)):
            raise ValueError(f"capacity must be a finite number >= 1, got {capacity!r}")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._interval = 0.0 if math.isinf(rate) else 1.0 / rate
        # How far ahead of now ``tat`` may run and still leave a whole token: (capacity - 1) intervals.
        self._tolerance = (self.capacity - 1.0) * self._interval
        self._tat = -math.inf  # -inf: full
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate!r}, capacity={self.capacity!r}, waiting={len(self._waiters)})"

    @property
    def waiting(self) -> int:
        """Tasks queued for a token (cancelled ones may be counted until they reach the head)."""
        return len(self._waiters)

    def tokens(self) -> float:
        """Tokens available now (fractional; ``capacity`` when full). Needs a running loop."""
        if self._interval == 0.0:
            return self.capacity
        now = asyncio.get_running_loop().time()
        return self.capacity - max(0.0, self._tat - now) / self._interval

    def _next_slot(self) -> float:
        """When the next token is (or was) available."""
        return self._tat - self._tolerance

    def _take(self, at: float) -> None:
        """Consume one token at time ``at`` (refill is capped: ``tat`` never lags ``at``)."""
        self._tat = max(self._tat, at) + self._interval

    async def acquire(self) -> None:
        """Take one token, waiting in FIFO order until it is available."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._waiters:
                raise RuntimeError("TokenBucket is in use by another event loop")
            self._loop, self._timer = loop, None
        now = loop.time()
        if not self._waiters and self._next_slot() <= now + _DUE_SLACK_S:
            self._take(now)
            return
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append(fut)
        self._arm()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # Granted, then cancelled before resuming: the token is already spent on our behalf.
                self._pass_on()
            else:
                self._drop_cancelled_head()
            raise

    def _drop_cancelled_head(self) -> None:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        if not self._waiters and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _pass_on(self) -> None:
        """Give a spent-but-unused token to the next live waiter, or back to the bucket."""
        self._drop_cancelled_head()
        if self._waiters:
            self._waiters.popleft().set_result(None)
            self._drop_cancelled_head()
        else:
            self._tat -= self._interval

    def _arm(self) -> None:
        """Make sure one timer is set for the head waiter's slot."""
        if self._timer is None and self._waiters and self._loop is not None:
            self._timer = self._loop.call_at(self._next_slot(), self._wake)

    def _wake(self) -> None:
        self._timer = None
        assert self._loop is not None
        now = self._loop.time()
        self._drop_cancelled_head()
        while self._waiters:
            slot = self._next_slot()
            if slot > now + _DUE_SLACK_S:
                break
            # Counted from when the token is really handed out, not from its slot: a timer that fires
            # late (asyncio's epoll timeouts round up to whole milliseconds) must not let the next
            # grant follow less than 1/rate after this one, or two sends share a window they should not.
            self._take(now)
            self._waiters.popleft().set_result(None)
            self._drop_cancelled_head()
        self._arm()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class CorrectedTokenBucket(Gated):
    """Every job as its own task behind one :class:`TokenBucket` at the declared rate.

    The bucket's capacity is :attr:`capacity` (1 token): each token is counted from the moment it is
    handed out ("now"), so grants are at least ``1/r`` apart and no half-open window of the binding
    tier's length holds more than its limit. In virtual time they land exactly on the ``1/r`` slots; in
    real time a late timer delays that grant and every later one by its lateness (the schedule slips,
    a missed slot is never released together with the next), see the module doc. A capacity of ``r``
    would burst ``r`` at once and allow ``2r − 1`` in the first second, like ``AsyncLimiter(r, 1)``.
    """

    name = "token-bucket"
    description = "corrected token bucket (loop clock, FIFO, one timer), capacity 1: evenly spaced at r/s"
    params = (Param("capacity", float, 1.0, "tokens the bucket holds: the largest burst after idling", minimum=1),)
    #: Burst size of the bucket (parameter ``capacity``).
    capacity: ClassVar[float] = 1.0

    def gate(self) -> Gate | None:
        return TokenBucket(self.quota.rate, capacity=self.capacity)
