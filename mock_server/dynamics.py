"""What changes the quota during a run, as a time-ordered stream of events: the limit schedule and
the noisy neighbour's arrivals. Times are absolute server-clock nanoseconds (start + the config's
offsets, converted once with :func:`mock_server.ticks.from_seconds`).

Events are pulled lazily, when a request arrives, rather than fired by timers: the app has no
background task to keep alive, virtual time needs none, and the outcome is the same because the quota
is only ever observed by requests.

>>> from mock_server.config import DynamicsConfig, LimitChange, NeighbourConfig
>>> dyn = DynamicsConfig(schedule=(LimitChange(1.0, 5),), neighbour=NeighbourConfig(rate=2.0))
>>> S = 1_000_000_000
>>> ev = Events(dyn, start=10 * S)
>>> [ev.pop(11 * S) for _ in range(5)]  # doctest: +NORMALIZE_WHITESPACE
[(10000000000, None), (10500000000, None), (11000000000, LimitChange(at_s=1.0, limit=5, tier=0)),
 (11000000000, None), None]
"""

from __future__ import annotations

import math
import random

from mock_server.config import DynamicsConfig, LimitChange
from mock_server.ticks import from_seconds

#: "No event left": later than any server time.
NEVER = math.inf


class Events:
    """Schedule changes and neighbour arrivals, merged in time order; at equal times a limit change
    comes first (it is in force from ``at_s`` on)."""

    def __init__(self, config: DynamicsConfig, start: int) -> None:
        self._changes = [(start + from_seconds(c.at_s), c) for c in config.schedule]
        self._i = 0
        n = config.neighbour
        self._rate = n.rate if n else 0.0
        self._poisson = bool(n and n.pattern == "poisson")
        self._rng = random.Random(n.seed if n else 0)
        self._n0: int | float = start + from_seconds(n.start_s) if n else NEVER
        self._n_end: int | float = start + from_seconds(n.end_s) if n and n.end_s is not None else NEVER
        self._n_count = 0
        self._n_next: int | float = self._n0
        if self._poisson:
            self._n_next = self._n0 + self._gap()
        if self._n_next >= self._n_end:
            self._n_next = NEVER

    def _gap(self) -> int:
        return from_seconds(self._rng.expovariate(self._rate))

    @property
    def next_at(self) -> int | float:
        """When the next event is due, in ns (``inf`` when none is left)."""
        c = self._changes[self._i][0] if self._i < len(self._changes) else NEVER
        return min(c, self._n_next)

    def pop(self, now: int) -> tuple[int, LimitChange | None] | None:
        """The next event due at or before ``now``: ``(t, change)`` or ``(t, None)`` for a neighbour
        arrival; ``None`` when nothing is due."""
        c = self._changes[self._i][0] if self._i < len(self._changes) else NEVER
        if c <= self._n_next and c <= now:
            t, change = self._changes[self._i]
            self._i += 1
            return t, change
        if self._n_next <= now:
            t = int(self._n_next)  # finite here: it is <= now
            self._n_count += 1
            # Regular arrivals count from the origin rather than accumulate, so a long run does not drift.
            nxt = t + self._gap() if self._poisson else self._n0 + from_seconds(self._n_count / self._rate)
            self._n_next = nxt if nxt < self._n_end else NEVER
            return t, None
        return None
