"""Sliding log: exact. A request at ``now`` is accepted when fewer than ``limit`` accepted requests lie in
``(now - window_s, now]``, so no half-open window ``[t, t + window_s)`` ever holds more than ``limit``
accepted requests.

>>> p = SlidingLog(limit=2, window_s=1.0)
>>> p.record(0.0); p.record(0.5)
>>> p.remaining(0.9), p.earliest(0.9), p.earliest(1.2)
(0, 1.0, 1.5)
"""

from __future__ import annotations

from collections import deque


class SlidingLog:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._log: deque[float] = deque()

    def _expire(self, now: float) -> None:
        # Same sum as earliest() computes, so a request at exactly that instant finds the slot free.
        while self._log and self._log[0] + self.window_s <= now:
            self._log.popleft()

    def remaining(self, now: float) -> int:
        self._expire(now)
        return max(0, self.limit - len(self._log))

    def earliest(self, now: float) -> float:
        # Pure (the oracle asks about future instants): the log is sorted, so the request is accepted
        # once the limit-th most recent acceptance has left the window.
        if len(self._log) < self.limit:
            return now
        return max(now, self._log[-self.limit] + self.window_s)

    def record(self, now: float) -> None:
        self._expire(now)
        self._log.append(now)
