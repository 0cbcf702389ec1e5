"""Fixed window: at most ``limit`` requests per window; the count restarts when a window ends.

Two anchors, as real APIs do it:

* :class:`FixedWindow` aligns windows to the clock, ``[k * W, (k + 1) * W)`` for ``k = now // W``
  (GitHub's hourly reset, "per calendar minute" quotas);
* :class:`FixedWindowFromFirst` starts a window at the first request after the previous window ended
  (an ``INCR`` + ``EXPIRE`` counter).

Either lets ``2 * limit`` requests through within a short span across a window edge, which is the
point of testing clients against it. Times are integer nanoseconds.

>>> S = 1_000_000_000
>>> p = FixedWindow(limit=2, window_ns=S)
>>> for t in (S // 2, 3 * S // 4): p.record(t)
>>> p.remaining(3 * S // 4), p.earliest(3 * S // 4), p.reset_after(3 * S // 4), p.remaining(S)
(0, 1000000000, 250000000, 2)
"""

from __future__ import annotations

from mock_server.policies.base import check_window, default_name
from mock_server.ticks import to_seconds


class FixedWindow:
    """Windows aligned to the clock. ``reset_after`` is the end of the current window (GitHub style)."""

    def __init__(self, limit: int, window_ns: int, name: str = "", unit: str = "requests") -> None:
        self.limit = limit
        self.unit = unit
        self.window_ns = check_window(window_ns)
        self.name = name or default_name(limit, window_ns)
        self._k: int | None = None  # the window counted in
        self._count = 0

    @property
    def window_s(self) -> float:
        return to_seconds(self.window_ns)

    def _count_at(self, now: int) -> int:
        return self._count if self._k == now // self.window_ns else 0

    def remaining(self, now: int) -> int:
        return max(0, self.limit - self._count_at(now))

    def earliest(self, now: int, n: int = 1) -> int:
        k = now // self.window_ns
        if self._k != k or self._count + n <= self.limit:
            return now
        return (k + 1) * self.window_ns

    def reset_after(self, now: int) -> int:
        return (now // self.window_ns + 1) * self.window_ns - now

    def record(self, now: int, n: int = 1) -> None:
        k = now // self.window_ns
        if self._k != k:
            self._k, self._count = k, 0
        self._count += n

    def set_limit(self, limit: int) -> None:
        self.limit = limit

    @property
    def capacity(self) -> int:
        return self.limit


class FixedWindowFromFirst:
    """A window opens at the first request after the previous one closed, and lasts ``window_ns``.
    ``reset_after`` is the end of the open window (0 when none is open).

    >>> S = 1_000_000_000
    >>> p = FixedWindowFromFirst(limit=1, window_ns=S)
    >>> p.record(S // 4)
    >>> p.earliest(S // 2), p.earliest(5 * S // 4), p.reset_after(S // 2)
    (1250000000, 1250000000, 750000000)
    """

    def __init__(self, limit: int, window_ns: int, name: str = "", unit: str = "requests") -> None:
        self.limit = limit
        self.unit = unit
        self.window_ns = check_window(window_ns)
        self.name = name or default_name(limit, window_ns)
        self._end: int | None = None  # the open window is [end - window_ns, end)
        self._count = 0

    @property
    def window_s(self) -> float:
        return to_seconds(self.window_ns)

    def _open(self, now: int) -> bool:
        return self._end is not None and now < self._end

    def remaining(self, now: int) -> int:
        return max(0, self.limit - self._count) if self._open(now) else self.limit

    def earliest(self, now: int, n: int = 1) -> int:
        if self._end is not None and now < self._end and self._count + n > self.limit:
            return self._end
        return now

    def reset_after(self, now: int) -> int:
        return self._end - now if self._end is not None and now < self._end else 0

    def record(self, now: int, n: int = 1) -> None:
        if not self._open(now):
            self._end, self._count = now + self.window_ns, 0
        self._count += n

    def set_limit(self, limit: int) -> None:
        self.limit = limit

    @property
    def capacity(self) -> int:
        return self.limit
