"""Injected failures: outage windows, random 5xx, slow and hanging responses.

Outages are checked for every API request (nothing reaches the quota during one); the random faults
are drawn for requests the quota accepted, one uniform draw each, from a generator seeded and restarted
at each reset. Times in the config are seconds relative to the state's start; here they are absolute
server-clock nanoseconds.

>>> from mock_server.config import FaultsConfig, Window
>>> S = 1_000_000_000
>>> f = Faults(FaultsConfig(error_rate=0.5, error_statuses=(502,), outages=(Window(10, 20),), seed=3),
...            start=100 * S)
>>> f.in_outage(105 * S), f.in_outage(110 * S), f.in_outage(120 * S)
(False, True, False)
>>> [f.draw() for _ in range(4)]
[Fault(status=502, delay_s=0.0, hang=False), None, Fault(status=502, delay_s=0.0, hang=False), None]
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mock_server.config import FaultsConfig
from mock_server.ticks import from_seconds


@dataclass(frozen=True, slots=True)
class Fault:
    """What happens to one request instead of (or on top of) a normal answer."""

    status: int = 200  # the status to answer (200: answer normally)
    delay_s: float = 0.0  # extra service time
    hang: bool = False  # hold the response until the client gives up (or hang_s passes: then 504)


class Faults:
    def __init__(self, config: FaultsConfig, start: int) -> None:
        self.config = config
        self._outages = [(start + from_seconds(w.start_s), start + from_seconds(w.end_s)) for w in config.outages]
        self._rng = random.Random(config.seed)
        c = config
        self._err = c.error_rate
        self._slow = c.error_rate + c.slow_rate
        self._hang = c.error_rate + c.slow_rate + c.hang_rate
        self.active = self._hang > 0  # nothing to draw: the hot path skips draw() entirely
        self.has_outages = bool(self._outages)
        self._slow_fault = Fault(200, c.slow_delay_s)
        self._hang_fault = Fault(504, c.hang_s, hang=True)

    def in_outage(self, now: int) -> bool:
        return any(a <= now < b for a, b in self._outages)

    def draw(self) -> Fault | None:
        """The fault for one accepted request, or ``None``."""
        u = self._rng.random()
        if u < self._err:
            statuses = self.config.error_statuses
            return Fault(statuses[0] if len(statuses) == 1 else self._rng.choice(statuses))
        if u < self._slow:
            return self._slow_fault
        if u < self._hang:
            return self._hang_fault
        return None
