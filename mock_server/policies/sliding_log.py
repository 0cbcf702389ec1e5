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
    def __init__(self, limit: int, window_ns: int, name: str = "") -> None:
        self.limit = limit
        self.window_ns = check_window(window_ns)
        self.name = name or default_name(limit, window_ns)
        self._log: deque[int] = deque()

    @property
    def window_s(self) -> float:
        return to_seconds(self.window_ns)

    def _expire(self, now: int) -> None:
        log, w = self._log, self.window_ns
        while log and log[0] + w <= now:
            log.popleft()

    def remaining(self, now: int) -> int:
        self._expire(now)
        return max(0, self.limit - len(self._log))

    def earliest(self, now: int) -> int:
        # Pure (the oracle asks about future instants): the log is sorted, so the request is accepted
        # once the limit-th most recent counted request has left the window.
        if len(self._log) < self.limit:
            return now
        return max(now, self._log[-self.limit] + self.window_ns)

    def reset_after(self, now: int) -> int:
        self._expire(now)
        if not self._log:
            return 0
        # remaining grows when the count drops below the limit: at the expiry of the entry that is
        # limit-th from the newest (penalties can push the count past the limit), or else the oldest.
        return self._log[max(0, len(self._log) - self.limit)] + self.window_ns - now

    def record(self, now: int) -> None:
        self._expire(now)
        self._log.append(now)

    def set_limit(self, limit: int) -> None:
        self.limit = limit

    @property
    def capacity(self) -> int:
        return self.limit
