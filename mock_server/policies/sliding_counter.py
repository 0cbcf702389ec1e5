"""Sliding-window counter (Cloudflare style): two clock-aligned fixed buckets, the previous one weighted
by how much of it the sliding window still covers.

With ``e`` the time into the current bucket, the estimate is ``prev * (window_s - e) / window_s + curr``
and a request is accepted when ``estimate + 1 <= limit``. Constant memory per key; it approximates the
sliding log and, unlike it, can let a little more than ``limit`` through in some sliding windows (the
estimate assumes the previous bucket's requests were spread evenly).

>>> p = SlidingCounter(limit=4, window_s=1.0)
>>> for t in (0.1, 0.2, 0.3, 0.4): p.record(t)
>>> p.earliest(0.5), p.remaining(1.25), p.earliest(1.25)
(1.25, 1, 1.25)
"""

from __future__ import annotations

import math

from mock_server.policies.base import default_name, first_true, window_index, window_start


class SlidingCounter:
    def __init__(self, limit: int, window_s: float, name: str = "") -> None:
        self.limit = limit
        self.window_s = window_s
        self.name = name or default_name(limit, window_s)
        self._k: int | None = None  # bucket of _curr; _prev is bucket _k - 1
        self._prev = 0
        self._curr = 0

    def _view(self, k: int) -> tuple[int, int]:
        """(previous, current) bucket counts as seen from bucket ``k``, without rolling state."""
        if self._k == k:
            return self._prev, self._curr
        if self._k is not None and self._k + 1 == k:
            return self._curr, 0
        return 0, 0

    def _fits(self, now: float, x: float) -> bool:
        """Is the estimate at ``now`` <= ``x``? (Multiplied out: no division to round differently.)"""
        w = self.window_s
        k = window_index(now, w)
        prev, curr = self._view(k)
        return prev * (w - (now - window_start(k, w))) <= (x - curr) * w

    def _when_fits(self, now: float, x: float) -> float:
        """The earliest instant >= ``now`` at which the estimate is <= ``x`` (x >= 0), if nothing more
        is counted."""
        if self._fits(now, x):
            return now
        w = self.window_s
        k = window_index(now, w)
        prev, curr = self._view(k)
        if curr <= x:  # the previous bucket's weight has to fade: prev * (w - e) / w <= x - curr
            t = min(window_start(k, w) + w - (x - curr) * w / prev, window_start(k + 1, w))
        else:  # only the next bucket can fit, once this one's weight fades: curr * (w - e) / w <= x
            t = min(window_start(k + 1, w) + w * (1 - x / curr), window_start(k + 2, w))
        return first_true(max(now, t), lambda u: self._fits(u, x))

    def earliest(self, now: float) -> float:
        return self._when_fits(now, self.limit - 1)

    def remaining(self, now: float) -> int:
        w = self.window_s
        k = window_index(now, w)
        prev, curr = self._view(k)
        estimate = curr + prev * (w - (now - window_start(k, w))) / w
        n = max(0, min(self.limit, math.floor(self.limit - estimate)))
        # The float estimate can be an ulp off; the predicate decide() uses has the last word.
        while n > 0 and not self._fits(now, self.limit - n):
            n -= 1
        while n < self.limit and self._fits(now, self.limit - n - 1):
            n += 1
        return n

    def reset_after(self, now: float) -> float:
        r = self.remaining(now)
        if r >= self.limit:
            return 0.0
        return self._when_fits(now, self.limit - r - 1) - now

    def record(self, now: float) -> None:
        k = window_index(now, self.window_s)
        if self._k != k:
            self._prev, self._curr = self._view(k)
            self._k = k
        self._curr += 1

    def set_limit(self, limit: int) -> None:
        self.limit = limit

    @property
    def capacity(self) -> int:
        return self.limit
