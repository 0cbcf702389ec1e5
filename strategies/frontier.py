"""A limiter on the frontier: as fast as a sliding-window quota allows, never over it, at the server.

:class:`FrontierLimiter` keeps the exact record of its own sends, a *sliding log per tier*: for a tier
of ``limit`` per ``window_s`` it grants a send only while fewer than ``limit`` of the sends before it can
still be inside the server's window. Copy the class with ``_Send`` and ``_Log`` (they need only the
standard library) and use it around each request::

    limiter = FrontierLimiter((20, 1.0), (1000, 3600.0))   # 20 per second and 1 000 per hour
    async with limiter:                                    # await limiter.acquire() … is the same, see below
        response = await client.get(url)

Why it sits on the frontier where the other limiters do not:

- **A late timer does not cost rate.** A window is counted from a send's *recorded* time, not from a
  schedule or the previous grant: a timer that fires 1 ms late delays the grants it wakes by 1 ms and
  the grants one window later by as much, never the ones in between. A capacity-1 bucket pays the
  lateness on every token (``TokenBucket(1000, capacity=1)``: 82–86 % of its rate on a real loop);
  this limiter pays it once per window and per position in the log.
- **A catch-up does not cross the window.** After a stall, the limiter grants what the log allows
  *now*: up to ``limit`` at once if the last window was idle, never the missed slots on top.
- **The window is counted where the server counts it.** The server's window starts at a request's
  *arrival*, which comes after the send by a delay nobody on the client sees. ``async with`` tells the
  limiter when each request ended: the answer cannot come before the server got the request, so the
  completion time bounds the arrival from above, exactly and whatever the network does. A send is
  granted at ``t`` only when fewer than ``limit`` earlier sends *ended* after ``t − window_s``; then no
  half-open window of the server's clock holds more than ``limit`` arrivals (of ``limit + 1`` arrivals in
  one window, the one granted last was granted less than a window after the other ``limit`` arrived, so
  after they ended minus a window: it would not have been granted). The price is about one round trip
  per window: the ``limit`` sends of a window go a window after the first ``limit`` ends, in the order the
  answers came.
- **The margin.** ``margin_s`` caps that per-send bound at ``grant + margin_s``: the window of a send is
  anchored at ``min(completion, grant + margin_s)``. The default ``inf`` keeps the exact bound (the
  safety margin of each send is its own measured grant-to-completion time); a finite margin, the spread of
  grant-to-arrival delays you measured (e.g. ``python -m bench calibrate``: the send delays at your burst
  size), saves the server's latency per window on slow APIs, at the price of that assumption. With
  :meth:`acquire` alone (no ``async with``) the limiter never learns when a send ended, so it needs a
  finite ``margin_s``.

Time is the running loop's clock (``loop.time()``) only; waiters queue in FIFO order on futures and
**one** ``loop.call_at`` timer wakes the head when the log allows it (re-armed earlier when a send ends),
as aiolimiter does: no polling. Cancelling a waiter loses no capacity. Only request counts are limited
(a tier that counts tokens needs the cost per request: not this limiter's job).
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections import deque
from collections.abc import Sequence
from types import TracebackType

from strategies.base import Gate, Gated

__all__ = ["Frontier", "FrontierLimiter"]

# A due time within this much of "now" is due: asyncio runs timers up to its clock resolution early
# (the virtual loop's resolution is 1 µs), so waiting for the exact float would cost a re-arm.
_DUE_SLACK_S = 1e-6


class _Send:
    """One granted send: when it was granted, and its window's anchor (see :meth:`FrontierLimiter._anchor`)."""

    __slots__ = ("anchor", "granted")

    def __init__(self, granted: float, anchor: float) -> None:
        self.granted = granted
        self.anchor = anchor  # only ever moves earlier: when the send ends, or -inf when it never happens


class _Log:
    """One tier's record: the window anchors of the sends that may still count, sorted.

    A send may be granted at ``t`` when fewer than ``limit`` anchors are later than ``t − window_s``: then no
    half-open window of the server holds ``limit + 1`` arrivals (of ``limit + 1`` arrivals in one window, the
    last granted was granted less than a window after the others arrived, so their ``limit`` anchors, which
    are no earlier than their arrivals, are all later than its grant minus a window). Anchors that can no
    longer count (``<= now − window_s``) are dropped.
    """

    __slots__ = ("anchors", "floor", "limit", "window_s")

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self.anchors: list[float] = []
        self.floor = -math.inf  # every anchor <= floor has been dropped, every later one is kept

    def due(self, now: float) -> float:
        """When the next send may be granted, as far as this tier knows now (``inf``: when a send ends)."""
        cut = now - self.window_s
        if self.anchors and self.anchors[0] <= cut:
            del self.anchors[:bisect.bisect_right(self.anchors, cut)]
        self.floor = max(self.floor, cut)
        if len(self.anchors) < self.limit:
            return -math.inf
        return self.anchors[-self.limit] + self.window_s

    def move(self, old: float, new: float) -> None:
        """A send's anchor moved from ``old`` (``nan``: a new send) to ``new`` (earlier)."""
        if old > self.floor:
            del self.anchors[bisect.bisect_left(self.anchors, old)]
        if new > self.floor:
            bisect.insort(self.anchors, new)


class FrontierLimiter:
    """At most ``limit`` sends in any ``window_s`` for each ``(limit, window_s)`` tier, counted from the
    sends' own record (a sliding log per tier); see the module doc for why and for ``margin_s``.

        >>> from bench.clock import run
        >>> async def grants() -> list[float]:
        ...     limiter, loop, out = FrontierLimiter((2, 1.0)), asyncio.get_running_loop(), []
        ...     for _ in range(5):
        ...         async with limiter:
        ...             out.append(loop.time())
        ...             await asyncio.sleep(0.01)        # the request: it ends 10 ms after its grant
        ...     return out
        >>> run(grants())                                 # 2 per second, each window from a send's end
        [0.0, 0.01, 1.01, 1.02, 2.02]
    """

    def __init__(self, *tiers: tuple[int, float], margin_s: float = math.inf) -> None:
        if not tiers:
            raise ValueError("give at least one (limit, window_s) tier")
        for limit, window_s in tiers:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
            if not (math.isfinite(window_s) and window_s > 0):
                raise ValueError(f"window_s must be a finite number > 0, got {window_s!r}")
        if not (margin_s >= 0):
            raise ValueError(f"margin_s must be >= 0 (inf: anchor each window at the send's end), got {margin_s!r}")
        self.tiers = tuple((int(limit), float(window_s)) for limit, window_s in tiers)
        self.margin_s = float(margin_s)
        self._logs = tuple(_Log(limit, window_s) for limit, window_s in self.tiers)
        self._held: dict[asyncio.Task[object] | None, list[_Send]] = {}
        self._waiters: deque[asyncio.Future[_Send]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        tiers = ", ".join(f"({limit}, {w!r})" for limit, w in self.tiers)
        return f"FrontierLimiter({tiers}, margin_s={self.margin_s!r}, waiting={len(self._waiters)})"

    @property
    def waiting(self) -> int:
        """Tasks queued for a grant (cancelled ones may be counted until they reach the head)."""
        return len(self._waiters)

    def _due(self, now: float) -> float:
        """When the next send may be granted (``inf``: when a send ends)."""
        return max(log.due(now) for log in self._logs)

    def _grant(self, now: float) -> _Send:
        # The window anchor: the latest instant the server can have received the send. Until it ends, that
        # is grant + margin (inf by default: unknown); its end moves it earlier (_move).
        s = _Send(now, now + self.margin_s)
        for log in self._logs:
            log.move(math.nan, s.anchor)
        return s

    def _move(self, s: _Send, anchor: float) -> None:
        if anchor < s.anchor:
            for log in self._logs:
                log.move(s.anchor, anchor)
            s.anchor = anchor

    async def _acquire(self) -> _Send:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._waiters:
                raise RuntimeError("FrontierLimiter is in use by another event loop")
            self._loop, self._timer, self._timer_at = loop, None, math.inf
        now = loop.time()
        if not self._waiters and self._due(now) <= now + _DUE_SLACK_S:
            return self._grant(now)
        fut: asyncio.Future[_Send] = loop.create_future()
        self._waiters.append(fut)
        self._arm()
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # Granted, then cancelled before resuming: the send never happens, so it holds no place.
                self._move(fut.result(), -math.inf)
            self._drop_cancelled_head()
            self._wake()
            raise

    async def acquire(self) -> None:
        """Wait (FIFO) until a send is allowed, and record it as sent now.

        Without :meth:`release` (``async with`` calls it) the limiter cannot know when the send ended:
        its window is anchored at ``grant + margin_s``, which must then be finite.
        """
        if math.isinf(self.margin_s):
            raise ValueError("acquire() alone needs a finite margin_s: use `async with limiter:` (it learns "
                             "when each send ends) or FrontierLimiter(..., margin_s=SECONDS)")
        await self._acquire()

    def release(self) -> None:
        """Record that the current task's send (from ``async with``) has ended: its answer is in."""
        task = asyncio.current_task()
        held = self._held.get(task)
        if not held:
            raise RuntimeError("release() without a matching `async with limiter:` in this task")
        s = held.pop()
        if not held:
            del self._held[task]
        self._move(s, asyncio.get_running_loop().time())
        if self._waiters:
            self._wake()  # the head's due time may have come earlier

    def _drop_cancelled_head(self) -> None:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()

    def _arm(self) -> None:
        """Keep one timer, set for when the log next allows the head waiter (none while that waits for an end)."""
        due = self._due(self._loop.time()) if self._waiters and self._loop is not None else math.inf
        if due == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = due
        if math.isfinite(due) and self._loop is not None:
            self._timer = self._loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        self._wake()

    def _wake(self) -> None:
        """Grant every waiter the log allows now, in order; then re-arm for the next."""
        if self._loop is None:
            return
        now = self._loop.time()
        self._drop_cancelled_head()
        while self._waiters and self._due(now) <= now + _DUE_SLACK_S:
            # Recorded as sent now, the real grant time, however late this wake-up is: the windows that
            # follow are counted from what happened, so lateness never lets two sends share a window.
            self._waiters.popleft().set_result(self._grant(now))
            self._drop_cancelled_head()
        self._arm()

    async def __aenter__(self) -> None:
        s = await self._acquire()
        self._held.setdefault(asyncio.current_task(), []).append(s)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class Frontier(Gated):
    """Every job as its own task inside ``async with FrontierLimiter(*declared request tiers)``.

    The window of each send is anchored at its end (``margin_s = inf``): the answer bounds the arrival,
    so no window of any declared tier holds more than its limit at the server, whatever the network
    does; the cost is about one round trip per window. Token tiers are not limited (see the module doc).

        >>> from bench.dryrun import send_times
        >>> from strategies.base import Quota, Tier
        >>> send_times(Frontier(Quota((Tier(2, 1.0),))), jobs=5)
        [0.0, 0.0, 1.0, 1.0, 2.0]
    """

    name = "frontier"
    description = ("sliding log of its own sends per declared tier, each window anchored at the send's end "
                   "(which bounds its arrival): the full limit per window, never over it at the server")
    #: Cap on each send's window anchor after its grant (see :class:`FrontierLimiter`); subclass to change it.
    margin_s: float = math.inf

    def gate(self) -> Gate | None:
        tiers: Sequence[tuple[int, float]] = [(t.limit, t.window_s) for t in self.quota.tiers if t.unit == "requests"]
        if not tiers:
            return None
        return FrontierLimiter(*tiers, margin_s=self.margin_s)
