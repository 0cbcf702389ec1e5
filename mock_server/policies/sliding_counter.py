"""Sliding window counter (the Cloudflare / "sliding window counter" approximation).

Time is cut into clock-aligned buckets of ``W`` (``k = now // W``); the policy keeps only the count of
the current and the previous bucket. At ``e = now - k * W`` into the current bucket, the estimate is
``prev * (W - e) / W + curr`` and a request is accepted when ``estimate + 1 <= limit``. Constant memory
per key; it approximates the sliding log and, unlike it, can let a little more than ``limit`` through
in some sliding windows (the estimate assumes the previous bucket's requests were spread evenly) — and
less: at the first instant of a bucket the whole previous bucket still weighs in, so a client
paced exactly at ``limit`` per ``W`` is turned away there (see docs/scenarios.md).

Every comparison is multiplied out over integers (``prev * (W - e) <= (x - curr) * W``), so
:meth:`earliest`, :meth:`remaining` and a decision agree exactly.

>>> S = 1_000_000_000
>>> p = SlidingCounter(limit=4, window_ns=S)
>>> for t in (1, 2, 3, 4): p.record(t * S // 10)
>>> p.earliest(S // 2), p.remaining(5 * S // 4), p.earliest(5 * S // 4)
(1250000000, 1, 1250000000)
"""

from __future__ import annotations

from mock_server.policies.base import check_window, default_name
from mock_server.ticks import ceil_div, to_seconds


class SlidingCounter:
    def __init__(self, limit: int, window_ns: int, name: str = "", unit: str = "requests") -> None:
        self.limit = limit
        self.unit = unit
        self.window_ns = check_window(window_ns)
        self.name = name or default_name(limit, window_ns)
        self._k: int | None = None  # bucket of _curr; _prev is bucket _k - 1
        self._prev = 0
        self._curr = 0

    @property
    def window_s(self) -> float:
        return to_seconds(self.window_ns)

    def _view(self, k: int) -> tuple[int, int]:
        """(previous, current) bucket counts as seen from bucket ``k``, without rolling state."""
        if self._k == k:
            return self._prev, self._curr
        if self._k is not None and self._k + 1 == k:
            return self._curr, 0
        return 0, 0

    def _when_fits(self, now: int, x: int) -> int:
        """The earliest instant >= ``now`` at which the estimate is <= ``x`` (``x >= 0``), if nothing
        more is counted: the first ``e`` with ``prev * (W - e) <= (x - curr) * W``."""
        w = self.window_ns
        k, e = divmod(now, w)
        prev, curr = self._view(k)
        if curr <= x:
            if prev * (w - e) <= (x - curr) * w:
                return now
            # The previous bucket's weight has to fade: e >= W - (x - curr) * W / prev (prev > 0 here).
            return k * w + w - (x - curr) * w // prev
        # Only the next bucket can fit, once this one's weight (as its previous) fades: curr * (W - e) <= x * W.
        return (k + 1) * w + w - x * w // curr

    def earliest(self, now: int, n: int = 1) -> int:
        # A cost of n fits when estimate + n <= limit (n <= limit: the app refuses larger costs).
        return self._when_fits(now, max(0, self.limit - n))

    def remaining(self, now: int) -> int:
        w = self.window_ns
        k, e = divmod(now, w)
        prev, curr = self._view(k)
        # The j-th (from 0) back-to-back request fits iff curr + j + prev * (W - e) / W <= limit - 1.
        return max(0, min(self.limit, self.limit - curr - ceil_div(prev * (w - e), w)))

    def reset_after(self, now: int) -> int:
        r = self.remaining(now)
        if r >= self.limit:
            return 0
        return self._when_fits(now, self.limit - r - 1) - now

    def record(self, now: int, n: int = 1) -> None:
        k = now // self.window_ns
        if self._k != k:
            self._prev, self._curr = self._view(k)
            self._k = k
        self._curr += n

    def set_limit(self, limit: int) -> None:
        self.limit = limit

    @property
    def capacity(self) -> int:
        return self.limit
