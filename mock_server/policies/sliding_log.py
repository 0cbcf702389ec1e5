"""Sliding log: exact. A request at ``now`` is accepted when fewer than ``limit`` counted requests lie in
``(now - window_s, now]``, so no half-open window ``[t, t + window_s)`` ever holds more than ``limit``
accepted requests. Memory: one float per request counted in the last window.

>>> p = SlidingLog(limit=2, window_s=1.0)
>>> p.record(0.0); p.record(0.5)
>>> p.remaining(0.75), p.earliest(0.75), p.reset_after(0.75), p.earliest(1.25), p.remaining(1.25)
(0, 1.0, 0.25, 1.25, 1)
"""

from __future__ import annotations

from collections import deque

from mock_server.policies.base import default_name


class SlidingLog:
    def __init__(self, limit: int, window_s: float, name: str = "") -> None:
        self.limit = limit
        self.window_s = window_s
        self.name = name or default_name(limit, window_s)
        self._log: deque[float] = deque()

    def _expire(self, now: float) -> None:
        # Same sum as earliest() computes, so a request at exactly that instant finds the slot free.
        log, w = self._log, self.window_s
        while log and log[0] + w <= now:
            log.popleft()

    def remaining(self, now: float) -> int:
        self._expire(now)
        return max(0, self.limit - len(self._log))

    def earliest(self, now: float) -> float:
        # Pure (the oracle asks about future instants): the log is sorted, so the request is accepted
        # once the limit-th most recent counted request has left the window.
        if len(self._log) < self.limit:
            return now
        return max(now, self._log[-self.limit] + self.window_s)

    def reset_after(self, now: float) -> float:
        self._expire(now)
        if not self._log:
            return 0.0
        # remaining grows when the count drops below the limit: at the expiry of the entry that is
        # limit-th from the newest (penalties can push the count past the limit), or else the oldest.
        return self._log[max(0, len(self._log) - self.limit)] + self.window_s - now

    def record(self, now: float) -> None:
        self._expire(now)
        self._log.append(now)

    def set_limit(self, limit: int) -> None:
        self.limit = limit

    @property
    def capacity(self) -> int:
        return self.limit
