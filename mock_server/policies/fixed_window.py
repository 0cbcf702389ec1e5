"""Fixed window: at most ``limit`` requests per window; the count restarts when a window ends.

Two anchors, as real APIs do it:

* :class:`FixedWindow` aligns windows to the clock, ``[k * window_s, (k + 1) * window_s)`` for
  ``k = floor(now / window_s)`` (GitHub's hourly reset, "per calendar minute" quotas);
* :class:`FixedWindowFromFirst` starts a window at the first request after the previous window ended
  (an ``INCR`` + ``EXPIRE`` counter).

Either lets ``2 * limit`` requests through within a short span across a window edge, which is the
point of testing clients against it.

>>> p = FixedWindow(limit=2, window_s=1.0)
>>> for t in (0.5, 0.75): p.record(t)
>>> p.remaining(0.75), p.earliest(0.75), p.reset_after(0.75), p.remaining(1.0)
(0, 1.0, 0.25, 2)
"""

from __future__ import annotations

import math

from mock_server.policies.base import default_name, window_index, window_start


class FixedWindow:
    """Windows aligned to the clock. ``reset_after`` is the end of the current window (GitHub style)."""

    def __init__(self, limit: int, window_s: float, name: str = "") -> None:
        self.limit = limit
        self.window_s = window_s
        self.name = name or default_name(limit, window_s)
        self._k: int | None = None  # the window counted in
        self._count = 0

    def _count_at(self, now: float) -> int:
        return self._count if self._k == window_index(now, self.window_s) else 0

    def remaining(self, now: float) -> int:
        return max(0, self.limit - self._count_at(now))

    def earliest(self, now: float) -> float:
        k = window_index(now, self.window_s)
        if self._k != k or self._count < self.limit:
            return now
        return window_start(k + 1, self.window_s)

    def reset_after(self, now: float) -> float:
        return window_start(window_index(now, self.window_s) + 1, self.window_s) - now

    def record(self, now: float) -> None:
        k = window_index(now, self.window_s)
        if self._k != k:
            self._k, self._count = k, 0
        self._count += 1

    def set_limit(self, limit: int) -> None:
        self.limit = limit

    @property
    def capacity(self) -> int:
        return self.limit


class FixedWindowFromFirst:
    """A window opens at the first request after the previous one closed, and lasts ``window_s``.
    ``reset_after`` is the end of the open window (0 when none is open).

    >>> p = FixedWindowFromFirst(limit=1, window_s=1.0)
    >>> p.record(0.25)
    >>> p.earliest(0.5), p.earliest(1.25), p.reset_after(0.5)
    (1.25, 1.25, 0.75)
    """

    def __init__(self, limit: int, window_s: float, name: str = "") -> None:
        self.limit = limit
        self.window_s = window_s
        self.name = name or default_name(limit, window_s)
        self._end = -math.inf  # the open window is [end - window_s, end)
        self._count = 0

    def remaining(self, now: float) -> int:
        return max(0, self.limit - self._count) if now < self._end else self.limit

    def earliest(self, now: float) -> float:
        if now < self._end and self._count >= self.limit:
            return self._end
        return now

    def reset_after(self, now: float) -> float:
        return self._end - now if now < self._end else 0.0

    def record(self, now: float) -> None:
        if now >= self._end:
            self._end, self._count = now + self.window_s, 0
        self._count += 1

    def set_limit(self, limit: int) -> None:
        self.limit = limit

    @property
    def capacity(self) -> int:
        return self.limit
