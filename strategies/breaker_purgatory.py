"""purgatory 3 as the circuit breaker outside the retry loop (see :mod:`strategies.breaking`).

``AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=10)``, one circuit (``"api"``): open
after 5 consecutive failed calls (a job's whole retry sequence ending in a 5xx or a transport error;
429s never count), one probe after 10 s.

Clock: purgatory reads ``time.time()`` (``OpenedState.opened_at`` and its ``time.time() > opened_at +
ttl`` check): the wall clock, which NTP may step, but which :func:`bench.clock.patch_time` does
patch, so in virtual time its cooldown is exact. Its check is strict (``>``): the probe goes one
virtual tick (1 µs) after ``opened_at + ttl``. An open breaker refuses by raising its own state
object (``purgatory.domain.model.OpenedState`` is an ``Exception``). Half-open lets every concurrent
caller through, hence :class:`~strategies.breaking.BreakerGuard`'s single-probe lock.
"""

from __future__ import annotations

import time

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker

from strategies.breaking import Breaker, BreakerStrategy, GuardedCall, ShortCircuited

__all__ = ["PurgatoryAdapter", "PurgatoryBreaker"]

#: purgatory opens the gate only strictly after ``opened_at + ttl``; one virtual tick is enough
#: (two float ulps of an epoch around 1.7e9 are ~0.5 µs).
_STRICT_S = 1e-6


class PurgatoryAdapter:
    """:class:`~strategies.breaking.Breaker` over one purgatory circuit, on purgatory's own clock.

        >>> adapter = PurgatoryAdapter(threshold=5, cooldown_s=10.0)
        >>> adapter.factory.default_threshold, adapter.factory.default_ttl, adapter.is_closed()
        (5, 10.0, True)
    """

    def __init__(self, threshold: int, cooldown_s: float, circuit: str = "api") -> None:
        self.factory = AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=cooldown_s)
        self.circuit = circuit
        self._breaker: AsyncCircuitBreaker | None = None

    def is_closed(self) -> bool:
        return self._breaker is None or self._breaker.context.state == "closed"

    def probe_in(self) -> float:
        if self._breaker is None:
            return 0.0
        ctx = self._breaker.context
        if ctx.state != "opened" or ctx.opened_at is None:
            return 0.0
        left = ctx.opened_at + ctx.ttl - time.time()
        return left + _STRICT_S if left >= 0 else 0.0

    async def call(self, fn: GuardedCall) -> httpx.Response:
        if self._breaker is None:
            self._breaker = await self.factory.get_breaker(self.circuit)
        try:
            async with self._breaker:
                return await fn()
        except OpenedState as e:
            raise ShortCircuited(str(e)) from e


class PurgatoryBreaker(BreakerStrategy):
    """Per job ``breaker(retry(send))`` with purgatory: 5 failures open it, one probe after 10 s."""

    name = "circuit-breaker-purgatory"
    description = ("purgatory circuit breaker (threshold 5, ttl 10 s) outside retry-backoff; "
                   "5xx/transport errors count, 429s do not; one probe per cooldown")

    def make_breaker(self) -> Breaker:
        return PurgatoryAdapter(self.fail_max, self.cooldown_s)
