"""aiobreaker 1.2 as the circuit breaker outside the retry loop (see :mod:`strategies.breaking`).

``CircuitBreaker(fail_max=5, timeout_duration=timedelta(seconds=10))``: open after 5 consecutive
failed calls (a call = a job's whole retry sequence ending in a 5xx or transport error; 429s never
count), one probe after 10 s.

Findings about aiobreaker 1.2, each pinned by a test:

- The widely copied article example passes ``reset_timeout=...``: aiobreaker 1.2 has no such
  parameter and raises ``TypeError`` at construction; the cooldown is ``timeout_duration``
  (a ``timedelta``; default 60 s).
- Its clock is ``datetime.utcnow()`` (the open → half-open check) and ``datetime.now()``
  (``opens_at``, ``time_until_open``, ``CircuitBreakerError.reopen_time``): the real wall clock, not
  the event loop's, and not ``time.time()``, so :func:`bench.clock.patch_time` does not move it.
  Under the virtual loop its own cooldown would never elapse (60 virtual seconds are a few real
  milliseconds).
- It compares a UTC ``utcnow()`` instant with a local ``now()`` one: east of UTC ``opens_at`` and
  ``reopen_time`` are ``None`` while the breaker is open (so ``sleep_until_open()`` raises
  ``TypeError``); west of UTC they report the cooldown plus the UTC offset (hours).
- Half-open lets every concurrent call through, not one.
- A call that started while the breaker was closed and fails after it opened is handled by the
  *closed* state it started in, which opens the breaker again: every late failure restarts the
  cooldown (purgatory ignores failures that land while it is open).

So this adapter keeps aiobreaker's counting and state machine but runs the cooldown on the loop
clock: it notes the loop time when a listener sees the breaker open, and when the cooldown has
passed it moves the breaker to half-open itself (``breaker.half_open()``, public API) before the
probe. In real time the two clocks agree to the millisecond, so behaviour is aiobreaker's; in
virtual time it is exact.
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

import httpx
from aiobreaker import CircuitBreaker, CircuitBreakerError, CircuitBreakerState

from strategies.breaking import Breaker, BreakerStrategy, CallFailed, GuardedCall, ShortCircuited

__all__ = ["AiobreakerAdapter", "AiobreakerBreaker"]

_DUE_SLACK_S = 1e-6


class _OpenedAt:
    """An aiobreaker listener (duck-typed: its base class is untyped) noting when the breaker opens."""

    def __init__(self, adapter: AiobreakerAdapter) -> None:
        self.adapter = adapter

    def before_call(self, breaker: Any, func: Any, *args: Any, **kwargs: Any) -> None:
        return None

    def failure(self, breaker: Any, exception: BaseException) -> None:
        return None

    def success(self, breaker: Any) -> None:
        return None

    def state_change(self, breaker: Any, old: Any, new: Any) -> None:
        if new.state == CircuitBreakerState.OPEN:
            self.adapter.opened_at = asyncio.get_running_loop().time()


class AiobreakerAdapter:
    """:class:`~strategies.breaking.Breaker` over one ``aiobreaker.CircuitBreaker``, cooldown on the loop clock.

        >>> adapter = AiobreakerAdapter(fail_max=5, cooldown_s=10.0)
        >>> adapter.breaker.fail_max, adapter.breaker.timeout_duration.total_seconds(), adapter.is_closed()
        (5, 10.0, True)
    """

    def __init__(self, fail_max: int, cooldown_s: float) -> None:
        self.cooldown_s = cooldown_s
        self.opened_at = -math.inf  # loop time of the last opening
        self.breaker = CircuitBreaker(fail_max=fail_max, timeout_duration=timedelta(seconds=cooldown_s),
                                      listeners=[_OpenedAt(self)])

    def is_closed(self) -> bool:
        return bool(self.breaker.current_state == CircuitBreakerState.CLOSED)

    def probe_in(self) -> float:
        left = self.opened_at + self.cooldown_s - asyncio.get_running_loop().time()
        # Within a tick is due: ``opened_at + cooldown`` in floats can land a hair past the µs grid.
        return left if left > _DUE_SLACK_S else 0.0

    async def call(self, fn: GuardedCall) -> httpx.Response:
        if self.breaker.current_state == CircuitBreakerState.OPEN and self.probe_in() <= 0:
            # aiobreaker would compare datetime.utcnow() with the opening; the loop clock decides here.
            self.breaker.half_open()
        try:
            response: httpx.Response = await self.breaker.call_async(fn)
        except CircuitBreakerError as e:
            # The call that trips the breaker raises CircuitBreakerError *from* its own failure.
            if isinstance(e.__cause__, CallFailed):
                raise e.__cause__ from None
            raise ShortCircuited(str(e)) from e
        return response


class AiobreakerBreaker(BreakerStrategy):
    """Per job ``breaker(retry(send))`` with aiobreaker: 5 failures open it, one probe after 10 s."""

    name = "circuit-breaker-aiobreaker"
    description = ("aiobreaker CircuitBreaker(fail_max=5, timeout_duration=10 s) outside retry-backoff; "
                   "5xx/transport errors count, 429s do not; one probe per cooldown")

    def make_breaker(self) -> Breaker:
        return AiobreakerAdapter(self.fail_max, self.cooldown_s)
