"""GCRA (generic cell rate algorithm): a token bucket kept as one number, the theoretical arrival time.

``limit`` per ``window_s`` sets the emission interval ``T = window_s / limit`` (the sustained rate);
``burst`` (default ``limit``) is how many requests an idle client may send back to back: the bucket's
capacity (what the limit headers report as the limit). A request at ``now`` is accepted when
``tat - (burst - 1) * T <= now``, and then ``tat = max(tat, now) + T``. This is exactly a token bucket
of capacity ``burst`` refilled at ``limit / window_s`` per second, starting full, so
``algorithm = "token-bucket"`` is the same policy.

>>> p = GCRA(limit=2, window_s=1.0, burst=3)          # 2/s sustained, 3 at once from idle
>>> for _ in range(3): p.record(0.0)
>>> p.remaining(0.0), p.earliest(0.0), p.remaining(0.5), p.reset_after(0.5)
(0, 0.5, 1, 0.5)
"""

from __future__ import annotations

import math

from mock_server.policies.base import default_name


class GCRA:
    def __init__(self, limit: int, window_s: float, burst: int | None = None, name: str = "") -> None:
        self.window_s = window_s
        self.name = name or default_name(limit, window_s)
        self._burst_given = burst
        # tat = base + k * T, kept as a count rather than by adding T again and again: every threshold
        # is then one correctly rounded expression, so remaining() counts exactly what decide() accepts.
        self._base = -math.inf
        self._k = 0
        self.interval = window_s / limit
        self.set_limit(limit)

    def set_limit(self, limit: int) -> None:
        self._base, self._k = self._tat(), 0  # keep the debt, in the old interval
        self.limit = limit
        self.burst = self._burst_given or limit
        self.interval = self.window_s / limit

    @property
    def capacity(self) -> int:
        return self.burst

    def _tat(self) -> float:
        return self._base + self._k * self.interval if self._k else self._base

    def _threshold(self, j: int) -> float:
        """The instant from which the request that would make ``tat = base + (j + 1) T`` is accepted."""
        return self._base + (j - self.burst + 1) * self.interval

    def earliest(self, now: float) -> float:
        if self._tat() <= now:
            return now
        return max(now, self._threshold(self._k))

    def remaining(self, now: float) -> int:
        if self._tat() <= now:
            return self.burst
        first = self._threshold(self._k)
        if first > now:
            return 0
        n = min(self.burst, math.floor((now - first) / self.interval) + 1)
        while n > 0 and self._threshold(self._k + n - 1) > now:
            n -= 1
        while n < self.burst and self._threshold(self._k + n) <= now:
            n += 1
        return n

    def reset_after(self, now: float) -> float:
        if self._tat() <= now:
            return 0.0
        return self._threshold(self._k + self.remaining(now)) - now

    def record(self, now: float) -> None:
        if self._tat() <= now:
            self._base, self._k = now, 1
        else:
            self._k += 1
