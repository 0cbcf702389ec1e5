"""The one retry policy every retrying strategy shares: what to retry, how long to wait, when to stop.

:class:`RetryPolicy` answers, for the outcome of attempt *n* of a job, "wait how long, or stop?";
:func:`call_with_retries` is the loop around it. ``retry-backoff``, ``tenacity``, ``adaptive-headers``,
the breaker strategies and ``layered`` all use it, so their retry behaviour differs only where they
configure it to::

    policy = RetryPolicy()                      # 6 attempts, 0.5 s × 2^n ±25 %, Retry-After honoured
    response = await call_with_retries(lambda: send(job), policy, random.Random(0))

What is retried: a transport error, 429, 500, 502, 503, 504, and a 403 that carries rate-limit evidence
(``Retry-After``, or ``remaining`` 0: GitHub rejects with 403 and says so in the headers). Any other
status is final.

How long: the server's word when it gives one (``Retry-After``/``retry-after-ms`` via
:func:`strategies.ratelimit_headers.parse`; with ``use_reset``, also the reset when ``remaining`` is 0),
**exactly** by default (``retry_after_jitter`` adds an up-only spread: never early); otherwise
exponential backoff ``min(cap_s, base_s × factor^(n−1)) × U(1 − jitter, 1 + jitter)``. Jitter applies
to the capped value, so waits at the cap stay spread out instead of synchronising every client.

When to stop: after ``max_attempts`` attempts, or at once when the server asks for a wait longer than
``give_up_after_s`` (a client would rather fail than sleep for an hour). A final transport error is
re-raised; a final response is returned as it is.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import ClassVar

import httpx

from strategies.base import Quota, Strategy
from strategies.ratelimit_headers import parse

__all__ = ["RETRY_STATUSES", "Outcome", "RetryPolicy", "Retrying", "call_with_retries", "is_failure"]

#: Statuses worth another attempt: throttling and transient server trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: What one attempt can end in.
Outcome = httpx.Response | httpx.TransportError


def is_failure(outcome: Outcome) -> bool:
    """A sign the service is unhealthy (a circuit breaker counts these): a 5xx or a transport error.

    A 429 is not one: the service is answering, deliberately, and a breaker that opened on throttling
    would fight the rate limiter instead of protecting a sick server.
    """
    return isinstance(outcome, httpx.TransportError) or outcome.status_code >= 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry decisions, from the outcome of one attempt; see the module docstring for the rules.

        >>> p = RetryPolicy(jitter=0.0)
        >>> [p.backoff_s(n, random.Random(0)) for n in range(1, 6)]
        [0.5, 1.0, 2.0, 4.0, 8.0]
        >>> p.delay_s(httpx.Response(429, headers={"Retry-After": "2"}), 1, random.Random(0))
        2.0
        >>> p.delay_s(httpx.Response(404), 1, random.Random(0)) is None
        True
    """

    max_attempts: int = 6
    base_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 30.0
    jitter: float = 0.25
    #: Up-only spread added to a server-given wait, as a fraction of it (0: retry exactly on time).
    retry_after_jitter: float = 0.0
    #: Also wait for the announced reset when a response says nothing remains (header-aware clients).
    use_reset: bool = False
    give_up_after_s: float = 600.0

    def single(self) -> RetryPolicy:
        """The same policy with one attempt only (a breaker's probe)."""
        return replace(self, max_attempts=1)

    def is_throttled(self, response: httpx.Response) -> bool:
        """429, or a 403 whose headers say it is about the quota."""
        if response.status_code == 429:
            return True
        if response.status_code != 403:
            return False
        info = parse(response.headers)
        return info.retry_after_s is not None or info.remaining == 0

    def retryable(self, outcome: Outcome) -> bool:
        if isinstance(outcome, httpx.TransportError):
            return True
        return outcome.status_code in RETRY_STATUSES or self.is_throttled(outcome)

    def server_wait_s(self, response: httpx.Response) -> float | None:
        """The wait the server asked for, or ``None`` when it did not say."""
        info = parse(response.headers)
        if info.retry_after_s is not None:
            return info.retry_after_s
        return info.wait_s if self.use_reset else None

    def nominal_s(self, retry: int) -> float:
        """Backoff before retry number ``retry`` (1 = the first retry), before jitter."""
        return min(self.cap_s, self.base_s * self.factor ** (retry - 1))

    def jittered(self, nominal: float, rng: random.Random) -> float:
        if self.jitter <= 0:
            return nominal
        return nominal * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)

    def backoff_s(self, retry: int, rng: random.Random) -> float:
        return self.jittered(self.nominal_s(retry), rng)

    def after_server_wait(self, wait: float, rng: random.Random) -> float:
        if self.retry_after_jitter <= 0:
            return wait
        return wait * (1.0 + rng.uniform(0.0, self.retry_after_jitter))

    def delay_s(self, outcome: Outcome, attempt: int, rng: random.Random) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to stop with this outcome."""
        if attempt >= self.max_attempts or not self.retryable(outcome):
            return None
        if isinstance(outcome, httpx.Response):
            wait = self.server_wait_s(outcome)
            if wait is not None:
                return None if wait > self.give_up_after_s else self.after_server_wait(wait, rng)
        return self.backoff_s(attempt, rng)


async def call_with_retries(
    attempt: Callable[[], Awaitable[httpx.Response]], policy: RetryPolicy, rng: random.Random
) -> httpx.Response:
    """Call ``attempt()`` until ``policy`` says stop; sleep on the running loop in between.

    Returns the last response (success or not); re-raises the last transport error.

        >>> from bench.clock import run
        >>> async def demo() -> tuple[int, float]:
        ...     answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)])
        ...     async def attempt() -> httpx.Response:
        ...         return next(answers)
        ...     r = await call_with_retries(attempt, RetryPolicy(), random.Random(0))
        ...     return r.status_code, asyncio.get_running_loop().time()
        >>> run(demo())
        (200, 3.0)
    """
    n = 0
    while True:
        n += 1
        outcome: Outcome
        try:
            outcome = await attempt()
        except httpx.TransportError as e:
            outcome = e
        delay = policy.delay_s(outcome, n, rng)
        if delay is None:
            if isinstance(outcome, httpx.TransportError):
                raise outcome
            return outcome
        await asyncio.sleep(delay)


class Retrying(Strategy):
    """Base of the strategies that retry: one :attr:`policy`, and exactly one ``random.Random(seed)``
    per instance, drawn in the order retries happen, so a run under the virtual clock repeats exactly.
    Subclasses vary either by overriding the class attribute."""

    policy: ClassVar[RetryPolicy] = RetryPolicy()
    seed: ClassVar[int] = 0

    def __init__(self, quota: Quota) -> None:
        super().__init__(quota)
        self.rng = random.Random(self.seed)
