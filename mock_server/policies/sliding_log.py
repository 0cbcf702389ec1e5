"""Sliding log: exact. A request at ``now`` is accepted when fewer than ``limit`` counted requests lie in
``(now - W, now]``, so no half-open window ``[t, t + W)`` ever holds more than ``limit`` accepted
requests: an entry exactly ``W`` old has left. Memory: one int per request counted in the last window.

>>> S = 1_000_000_000                       # times are integer nanoseconds
>>> p = SlidingLog(limit=2, window_ns=S)
>>> p.record(0); p.record(S // 2)
>>> p.remaining(3 * S // 4), p.earliest(3 * S // 4), p.reset_after(3 * S // 4), p.remaining(S)
(0, 1000000000, 250000000, 1)
"""

from __future__ import annotations

from collections import deque

from mock_server.policies.base import check_window, default_name
from mock_server.ticks import to_seconds


class SlidingLog:
    """Entries are ``(time, cost)``; the sum of the costs in ``(now - W, now]`` is what is counted (a
    request counts 1; a weighted tier counts its cost, see :class:`~mock_server.policies.base.Tiered`).

    >>> p = SlidingLog(limit=10, window_ns=100)
    >>> p.record(0, 6); p.record(50, 3)
    >>> p.remaining(60), p.earliest(60, 1), p.earliest(60, 2), p.earliest(60, 5), p.reset_after(60)
    (1, 60, 100, 100, 40)
    """

    def __init__(self, limit: int, window_ns: int, name: str = "", unit: str = "requests") -> None:
        self.limit = limit
        self.unit = unit
        self.window_ns = check_window(window_ns)
        self.name = name or default_name(limit, window_ns)
        self._log: deque[tuple[int, int]] = deque()
        self._total = 0  # sum of the costs in the log

    @property
    def window_s(self) -> float:
        return to_seconds(self.window_ns)

    def _expire(self, now: int) -> None:
        log, w = self._log, self.window_ns
        while log and log[0][0] + w <= now:
            self._total -= log.popleft()[1]

    def _freed_at(self, units: int) -> int:
        """When the oldest entries, expiring in order, have freed at least ``units`` (>= 1) units."""
        freed = 0
        for t, c in self._log:
            freed += c
            if freed >= units:
                return t + self.window_ns
        return self._log[-1][0] + self.window_ns  # everything gone (units > total: cannot happen here)

    def remaining(self, now: int) -> int:
        self._expire(now)
        return max(0, self.limit - self._total)

    def earliest(self, now: int, n: int = 1) -> int:
        # Pure (the oracle asks about future instants): the log is sorted, so the request fits once
        # enough of the oldest entries have left the window to make room for n.
        excess = self._total + n - self.limit
        if excess <= 0:
            return now
        return max(now, self._freed_at(excess))

    def reset_after(self, now: int) -> int:
        self._expire(now)
        if not self._log:
            return 0
        # remaining grows when the total drops below the limit (penalties can push it past the limit):
        # once total - limit + 1 units have expired, or the oldest entry when under the limit.
        return self._freed_at(max(1, self._total - self.limit + 1)) - now

    def record(self, now: int, n: int = 1) -> None:
        self._expire(now)
        self._log.append((now, n))
        self._total += n

    def set_limit(self, limit: int) -> None:
        self.limit = limit

    @property
    def capacity(self) -> int:
        return self.limit
