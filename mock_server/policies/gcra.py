"""GCRA (generic cell rate algorithm): a token bucket kept as one number, the theoretical arrival time.

``limit`` per window ``W`` sets the emission interval ``T = W / limit`` (the sustained rate);
``burst`` (default ``limit``) is how many requests an idle client may send back to back: the bucket's
capacity (what the limit headers report as the limit). A request at ``now`` is accepted when
``tat - (burst - 1) * T <= now``, and then ``tat = max(tat, now) + T``. This is exactly a token bucket
of capacity ``burst`` refilled at ``limit / W``, starting full, so ``algorithm = "token-bucket"`` is
the same policy.

``T`` is rarely a whole number of nanoseconds (1 s / 3), so ``tat`` is kept in units of
``1 / limit`` ns, in which ``T`` is exactly ``W``: every comparison is between integers, and a client
sending request ``i`` at ``ceil(i * W / limit)`` is never turned away.

>>> S = 1_000_000_000
>>> p = GCRA(limit=2, window_ns=S, burst=3)          # 2/s sustained, 3 at once from idle
>>> for _ in range(3): p.record(0)
>>> p.remaining(0), p.earliest(0), p.remaining(S // 2), p.reset_after(S // 2)
(0, 500000000, 1, 500000000)
"""

from __future__ import annotations

from mock_server.policies.base import check_window, default_name
from mock_server.ticks import ceil_div, to_seconds


class GCRA:
    def __init__(self, limit: int, window_ns: int, burst: int | None = None, name: str = "",
                 unit: str = "requests") -> None:
        self.unit = unit
        self.window_ns = check_window(window_ns)
        self.name = name or default_name(limit, window_ns)
        self._burst_given = burst
        self._tat: int | None = None  # in units of 1 / limit ns; None: idle since the start
        self.limit = limit
        self.burst = burst or limit

    @property
    def window_s(self) -> float:
        return to_seconds(self.window_ns)

    def set_limit(self, limit: int) -> None:
        if self._tat is not None:  # keep the debt, rounded up to the new unit (never forgiven)
            self._tat = ceil_div(self._tat * limit, self.limit)
        self.limit = limit
        self.burst = self._burst_given or limit

    @property
    def capacity(self) -> int:
        return self.burst

    def _tolerance(self) -> int:
        return (self.burst - 1) * self.window_ns

    def earliest(self, now: int, n: int = 1) -> int:
        tat = self._tat
        if tat is None:
            return now
        # n tokens at once: the n-th of them must fit, so tolerance (burst - n) * W (n <= burst).
        first = tat - (self.burst - n) * self.window_ns  # in 1/limit ns: accepted once now * limit reaches it
        return now if first <= now * self.limit else ceil_div(first, self.limit)

    def remaining(self, now: int) -> int:
        tat = self._tat
        if tat is None or tat <= now * self.limit:
            return self.burst
        # Back to back at now, the j-th (from 0) is accepted iff tat + j * W - tolerance <= now * limit.
        return max(0, (now * self.limit - tat) // self.window_ns + self.burst)

    def reset_after(self, now: int) -> int:
        tat = self._tat
        if tat is None or tat <= now * self.limit:
            return 0
        r = self.remaining(now)
        return ceil_div(tat + r * self.window_ns - self._tolerance(), self.limit) - now

    def record(self, now: int, n: int = 1) -> None:
        tat, t = self._tat, now * self.limit
        self._tat = (t if tat is None or tat < t else tat) + n * self.window_ns
