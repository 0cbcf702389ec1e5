"""The retry-backoff policy expressed through tenacity: ``AsyncRetrying`` with tenacity's own pieces.

``stop_after_attempt(6)``, ``retry_if_result(<throttled or 5xx>) | retry_if_exception_type(TransportError)``
and a wait that is tenacity's ``wait_exponential_jitter(multiplier=0.5, max=30, exp_base=2, jitter=0)``
combined with the server's word::

    retrying = AsyncRetrying(stop=..., wait=ServerOrExponential(policy, rng), retry=..., ...)
    response = await retrying(send, job)

Why ``jitter=0`` plus our own jitter: tenacity's jitter is *additive* ``random.uniform(0, jitter)`` drawn
from the global, unseeded ``random`` module, and applied before the cap (so at the cap it vanishes).
To run the *same* policy as ``retry-backoff`` (multiplicative ±25 % on the capped value, one seeded
``random.Random`` per strategy) the custom wait applies :meth:`RetryPolicy.jittered` to tenacity's
exponential value; with the same seed the two strategies produce the same timeline, attempt for
attempt. ``wait_exponential_jitter(initial=...)`` is deprecated in tenacity 9 (a
``DeprecationWarning``): ``multiplier`` is the spelling that works.

Clocks: tenacity sleeps with ``asyncio.sleep`` (its default ``_portable_async_sleep`` switches to trio
only when trio is imported and running), so it follows the virtual loop; it reads ``time.monotonic()``
only for its statistics and ``stop_after_delay`` (not used here).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from strategies.base import Job
from strategies.retry_backoff import RetryBackoff
from strategies.retry_policy import RetryPolicy


def _response(rs: RetryCallState) -> httpx.Response | None:
    """The attempt's response, if it ended in one (not in an exception)."""
    fut = rs.outcome
    if fut is None or fut.failed:
        return None
    result = fut.result()
    return result if isinstance(result, httpx.Response) else None


class ServerOrExponential(wait_base):
    """``Retry-After`` (per :class:`RetryPolicy`) when the server gave one, else tenacity's exponential
    value with the policy's seeded multiplicative jitter."""

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng
        self.exponential = wait_exponential_jitter(multiplier=policy.base_s, max=policy.cap_s,
                                                   exp_base=policy.factor, jitter=0)

    def __call__(self, retry_state: RetryCallState) -> float:
        # tenacity computes the wait *before* asking stop: after the last attempt, draw nothing, so the
        # shared RNG stays in step with the hand-written loop (which stops first).
        if retry_state.attempt_number >= self.policy.max_attempts:
            return 0.0
        response = _response(retry_state)
        if response is not None:
            wait = self.policy.server_wait_s(response)
            if wait is not None:
                return wait if wait > self.policy.give_up_after_s else self.policy.after_server_wait(wait, self.rng)
        return self.policy.jittered(self.exponential(retry_state), self.rng)


class ServerWaitTooLong(stop_base):
    """Stop when the server asks for a wait beyond the policy's ``give_up_after_s``."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> bool:
        response = _response(retry_state)
        wait = None if response is None else self.policy.server_wait_s(response)
        return wait is not None and wait > self.policy.give_up_after_s


def _last_outcome(retry_state: RetryCallState) -> httpx.Response:
    """When tenacity gives up, return the last response (or re-raise the last error), not a RetryError."""
    assert retry_state.outcome is not None
    result: httpx.Response = retry_state.outcome.result()
    return result


class TenacityRetry(RetryBackoff):
    """:class:`strategies.retry_backoff.RetryBackoff` with each job's retries run by ``tenacity.AsyncRetrying``."""

    name = "tenacity"
    description = ("tenacity AsyncRetrying: same policy as retry-backoff (6 attempts, 0.5 s×2^n ±25 %, "
                   "Retry-After), concurrency cap, no limiter")

    def retrying(self) -> AsyncRetrying:
        """A fresh controller (one per job: tenacity keeps per-call statistics on the instance)."""
        p = self.policy
        return AsyncRetrying(
            stop=stop_after_attempt(p.max_attempts) | ServerWaitTooLong(p),
            wait=ServerOrExponential(p, self.rng),
            retry=retry_if_result(p.retryable) | retry_if_exception_type(httpx.TransportError),
            retry_error_callback=_last_outcome,
        )

    async def call(self, attempt: Callable[[Job], Awaitable[httpx.Response]], job: Job) -> httpx.Response:
        response: httpx.Response = await self.retrying()(attempt, job)
        return response
