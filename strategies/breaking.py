"""A circuit breaker *outside* the retry loop, library-agnostic: what both breaker strategies and
``layered`` share.

A job's whole retry sequence (:func:`~strategies.retry_policy.call_with_retries`) is one breaker call.
The call *fails*, for the breaker, when its final outcome is a 5xx or a transport error
(:func:`~strategies.retry_policy.is_failure`); a 429 is a healthy server saying "slower" and never
trips it. After ``fail_max`` consecutive failed calls the breaker opens; calls are then refused
without sending anything. After the cooldown, **one** probe (a single attempt, no retries: a probe
asks "are you back?", it does not hammer) is let through; its success closes the breaker, its failure
re-opens it for another cooldown.

Jobs are not failed fast: a job refused by an open breaker waits for the cooldown and tries again
(at most ``max_rounds`` breaker calls), so jobs that arrive during an outage still complete once the
server recovers. A job whose own call failed (all its retries) ends there, as it would without the
breaker: re-running failed calls would multiply the load the breaker exists to shed (measured: on
the flaky example, ~6× the attempts of retry-backoff).

While the breaker is not closed, jobs queue FIFO on one lock; its holder sleeps until the probe is
due (one scheduled wake-up, no polling) and probes; the others wait for the verdict. When a probe
closes the breaker, every queued job goes at once: a breaker is not a rate limiter.

Neither aiobreaker 1.2 nor purgatory 3 limits the half-open state to one call (every caller that
arrives while half-open goes through), hence this guard's own single-probe lock. The libraries keep
the counting and the state machine; :class:`Breaker` is the small adapter each strategy provides.

    guard = BreakerGuard(adapter, RetryPolicy(), max_rounds=20)
    response = await guard.run(lambda probe: call_with_retries(attempt, policy.single() if probe
                                                               else policy, rng))

Known behaviour: in-flight retry sequences are not interrupted when the breaker opens (the breaker
sits outside them), so with many jobs in flight some retries still reach a failing server after the
breaker opened; only *new* calls are refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar, Protocol

import httpx

from strategies.base import Job, Jobs, Send, for_each
from strategies.retry_policy import Outcome, Retrying, RetryPolicy, call_with_retries, is_failure

__all__ = ["Breaker", "BreakerGuard", "BreakerStrategy", "CallFailed", "ShortCircuited"]


class CallFailed(Exception):
    """Raised inside the breaker so that it counts a failure; carries the outcome out again."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class ShortCircuited(Exception):
    """The breaker refused the call: nothing was sent."""


GuardedCall = Callable[[], Awaitable[httpx.Response]]


class Breaker(Protocol):
    """What :class:`BreakerGuard` needs from a circuit-breaker library."""

    def is_closed(self) -> bool:
        """Calls go through normally."""
        ...

    def probe_in(self) -> float:
        """Seconds (on the running loop) until a probe may be sent; 0 when it may go now."""
        ...

    async def call(self, fn: GuardedCall) -> httpx.Response:
        """Run ``fn`` through the breaker; raise :class:`ShortCircuited` if refused, and let
        :class:`CallFailed` from ``fn`` out after the breaker counted it."""
        ...


class BreakerGuard:
    """Drives one :class:`Breaker` for many concurrent jobs: single probe, bounded waiting."""

    def __init__(self, breaker: Breaker, policy: RetryPolicy, max_rounds: int = 20) -> None:
        self.breaker = breaker
        self.policy = policy
        self.max_rounds = max_rounds
        self._probe_lock = asyncio.Lock()

    async def _attempt(self, call: Callable[[bool], Awaitable[httpx.Response]], probe: bool) -> Outcome | None:
        """One breaker call; its outcome, or ``None`` when the breaker refused it."""

        async def counted() -> httpx.Response:
            try:
                response = await call(probe)
            except httpx.TransportError as e:
                raise CallFailed(e) from e
            if is_failure(response):
                raise CallFailed(response)
            return response

        try:
            return await self.breaker.call(counted)
        except ShortCircuited:
            return None
        except CallFailed as f:
            return f.outcome

    async def run(self, call: Callable[[bool], Awaitable[httpx.Response]]) -> httpx.Response | None:
        """Get one job done through the breaker. ``call(probe)`` makes the request(s); with
        ``probe=True`` it must make a single attempt.

        Returns the final response (``None`` if the breaker never let the job through); re-raises a
        final transport error. A refused job waits for the cooldown and tries again (probing, if it
        is first in line); so does a job whose probe failed or was throttled. A job whose own call
        failed (its retries exhausted on 5xx / transport errors) ends there, as under the retry
        policy alone: the breaker bounds the load on a sick server, it does not add retries."""
        last: Outcome | None = None
        rounds = 0
        while rounds < self.max_rounds:
            probe = False
            if self.breaker.is_closed():
                outcome = await self._attempt(call, probe)
            else:
                async with self._probe_lock:
                    if self.breaker.is_closed():
                        continue  # a probe succeeded while we queued: go through normally
                    delay = self.breaker.probe_in()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    probe = True
                    outcome = await self._attempt(call, probe)
            rounds += 1
            if outcome is None:
                continue  # refused: wait for the cooldown
            last = outcome
            if isinstance(outcome, httpx.TransportError) or is_failure(outcome):
                if probe:
                    continue  # the probe re-opened the breaker: wait for the next cooldown
                break
            if probe and self.policy.retryable(outcome):
                continue  # a throttled probe still proved the server alive (closed): go round, with retries
            return outcome
        if isinstance(last, httpx.TransportError):
            raise last
        return last


class BreakerStrategy(Retrying):
    """Base of the breaker strategies: per job, ``breaker(retry(send))``; attempts behind
    ``Semaphore(quota.concurrency)``. Subclasses provide :meth:`make_breaker`."""

    #: Consecutive failed calls (whole retry sequences) that open the breaker.
    fail_max: ClassVar[int] = 5
    #: Seconds the breaker stays open before one probe is let through.
    cooldown_s: ClassVar[float] = 10.0
    #: Breaker calls (failed, refused or probing) a job may make before it gives up.
    max_rounds: ClassVar[int] = 20

    def make_breaker(self) -> Breaker:
        raise NotImplementedError

    def make_attempt(self, send: Send) -> Callable[[Job], Awaitable[httpx.Response]]:
        """One HTTP attempt for a job, as this strategy gates it (here: the concurrency cap only)."""
        semaphore = asyncio.Semaphore(self.quota.concurrency)

        async def attempt(job: Job) -> httpx.Response:
            async with semaphore:
                return await send(job)

        return attempt

    async def run(self, jobs: Jobs, send: Send) -> None:
        guard = BreakerGuard(self.make_breaker(), self.policy, self.max_rounds)
        attempt = self.make_attempt(send)

        async def one(job: Job) -> None:
            async def call(probe: bool) -> httpx.Response:
                policy = self.policy.single() if probe else self.policy
                return await call_with_retries(lambda: attempt(job), policy, self.rng)

            await guard.run(call)

        await for_each(jobs, one)
