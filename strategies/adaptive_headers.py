"""Header-driven pacing: a static limiter at the declared rate as the floor, slower when the API says so.

:class:`HeaderPacer` decides when each request may go. Two constraints, both must hold:

1. the **static floor**: a :class:`~strategies.token_bucket.TokenBucket` at the declared rate ``r``,
   capacity 1: never faster than ``r``, evenly spaced, whatever the headers say (a header can slow
   us down, never speed us up past what the API documents);
2. the **header pace**, from the last response that had usable headers (any dialect
   :func:`strategies.ratelimit_headers.parse` reads):

   - ``Retry-After`` (or ``retry-after-ms``): nothing is sent until it has passed; it wins over the
     reset (``t``) when both are present;
   - ``remaining`` and the reset: the requests left, minus the ones already in flight (sent before
     this answer was read, not yet counted), are spread evenly over the time to the reset; when
     none are left, nothing is sent until the reset (a server's ``remaining: 0`` closes the gate like
     ``Retry-After``; a zero reached only by subtracting our in-flight requests is a guess that the
     next answer replaces);
   - no usable header (none sent, or malformed): no header pace, the floor alone;
   - no wait taken from a header is longer than ``max_wait_s`` (default
     :data:`~strategies.ratelimit_headers.DEFAULT_MAX_WAIT_S`, 5 minutes): a longer ``Retry-After`` or
     reset is cut to it and counted in :attr:`HeaderPacer.capped` (one hostile or buggy answer must not
     stop the client for days).

A 429 (or a quota 403) is retried per :class:`~strategies.retry_policy.RetryPolicy` with
``use_reset``: after the server's ``Retry-After``, else after the reset when nothing remains, else
with exponential backoff; its headers have already closed the gate for everyone else too.

    pacer = HeaderPacer(rate=10)
    response = await pacer.send(send, job)      # waits for its turn, sends, reads the headers

The pacer reads the loop clock only; the parser reads ``time.time()`` just to turn epoch resets and
HTTP-dates into delays. One sender passes at a time (an ``asyncio.Lock``, FIFO), sleeping on one
scheduled wake-up that a fresher response can bring forward: no polling.
"""

from __future__ import annotations

import asyncio
import math
from typing import ClassVar

import httpx

from strategies.base import Job, Jobs, Send, for_each
from strategies.ratelimit_headers import DEFAULT_MAX_WAIT_S, capped, parse
from strategies.retry_policy import Retrying, RetryPolicy, call_with_retries
from strategies.token_bucket import TokenBucket

__all__ = ["AdaptiveHeaders", "HeaderPacer", "pacer_counters"]

# A due time within this of "now" is now (the virtual loop's tick; asyncio fires timers this early).
_SLACK_S = 1e-6


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class HeaderPacer:
    """Paces sends by a static floor (``rate`` per second, evenly spaced) and the latest headers.

        >>> from bench.clock import run
        >>> async def demo() -> list[float]:
        ...     pacer, loop, sent = HeaderPacer(rate=100), asyncio.get_running_loop(), []
        ...     async def send(job: Job) -> httpx.Response:
        ...         sent.append(loop.time())
        ...         return httpx.Response(200, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3"})
        ...     for i in range(2):
        ...         await pacer.send(send, Job(i))
        ...     return sent
        >>> run(demo())              # the first answer says "none left for 3 s"
        [0.0, 3.0]
    """

    def __init__(self, rate: float, max_wait_s: float = DEFAULT_MAX_WAIT_S) -> None:
        if not (math.isfinite(max_wait_s) and max_wait_s > 0):
            raise ValueError(f"max_wait_s: must be a finite number > 0, got {max_wait_s!r}")
        self.floor = TokenBucket(rate, capacity=1.0)
        self.max_wait_s = max_wait_s
        #: Header waits (Retry-After, reset) longer than ``max_wait_s`` that were cut to it.
        self.capped = 0
        self._lock = asyncio.Lock()
        self._gate = -math.inf  # nothing is sent before this loop time (Retry-After / exhausted quota)
        self._interval = 0.0  # header pace: seconds between sends (0: the floor alone)
        self._held_until = -math.inf  # our own estimate (in-flight requests use up what is left)
        self._last_sent = -math.inf
        self._in_flight = 0
        self._wakeup: asyncio.Future[None] | None = None

    @property
    def interval_s(self) -> float:
        """The current header pace (0 when the headers impose none)."""
        return self._interval

    @property
    def gate(self) -> float:
        """Loop time before which nothing is sent (``-inf`` when open)."""
        return self._gate

    def _due(self) -> float:
        return max(self._gate, self._held_until, self._last_sent + self._interval)

    async def _sleep_until_due(self, loop: asyncio.AbstractEventLoop) -> None:
        while (due := self._due()) > loop.time() + _SLACK_S:
            fut: asyncio.Future[None] = loop.create_future()
            handle = loop.call_at(due, _wake, fut)
            self._wakeup = fut
            try:
                await fut  # woken at ``due``, or earlier by observe() when the pace changed
            finally:
                handle.cancel()
                self._wakeup = None

    async def acquire(self) -> None:
        """Wait for this request's turn; the caller must then send and call :meth:`observe` once."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                await self._sleep_until_due(loop)
                await self.floor.acquire()
                # A response read while we waited for the token may have closed the gate: check again
                # (the token is spent; the floor only bounds the rate from above, so that is safe).
                if self._due() <= loop.time() + _SLACK_S:
                    break
            self._last_sent = loop.time()
            self._in_flight += 1

    def observe(self, response: httpx.Response | None) -> None:
        """Account for one answered (or failed: ``None``) request and learn from its headers."""
        self._in_flight = max(0, self._in_flight - 1)
        if response is None:
            return
        now = asyncio.get_running_loop().time()
        before = self._due()
        info, cut = capped(parse(response.headers), self.max_wait_s)
        self.capped += cut
        if info.retry_after_s is not None:
            self._gate = max(self._gate, now + info.retry_after_s)
        # The pace is replaced by every answer; the gate only ever moves later (the server's word).
        self._interval, self._held_until = 0.0, -math.inf
        if info.remaining is not None and info.reset_after_s is not None:
            if info.remaining == 0 and info.retry_after_s is None:
                self._gate = max(self._gate, now + info.reset_after_s)
            # The server counted this request but not those still in flight: they will use some of it.
            left = info.remaining - self._in_flight
            if left > 0:
                self._interval = info.reset_after_s / left
            elif info.remaining > 0:
                self._held_until = now + info.reset_after_s  # a guess: the next answer may revise it
        # else: nothing usable, the static floor alone
        if self._wakeup is not None and self._due() != before:
            _wake(self._wakeup)  # let the waiting sender re-read its due time

    async def send(self, send: Send, job: Job) -> httpx.Response:
        """One paced attempt: wait for the turn, send, learn from the answer."""
        await self.acquire()
        response: httpx.Response | None = None
        try:
            response = await send(job)
            return response
        finally:
            self.observe(response)


def pacer_counters(pacer: HeaderPacer | None) -> dict[str, int]:
    """The counters a strategy built on ``pacer`` reports (:meth:`strategies.base.Strategy.counters`):
    ``capped_hints``, the header waits cut to ``max_wait_s`` (none before the pacer exists).

        >>> pacer_counters(HeaderPacer(rate=10))
        {'capped_hints': 0}
    """
    return {} if pacer is None else {"capped_hints": pacer.capped}


class AdaptiveHeaders(Retrying):
    """Every job as a task; each attempt through one :class:`HeaderPacer` at the declared rate;
    429s retried after the server's delay (:class:`RetryPolicy` with ``use_reset``)."""

    name = "adaptive-headers"
    description = ("paces by rate-limit headers (remaining spread over the reset, Retry-After wins) "
                   "with a token bucket at r as the floor; retries 429 after the indicated delay")
    policy: ClassVar[RetryPolicy] = RetryPolicy(use_reset=True)
    #: The longest wait taken from one header (see :class:`HeaderPacer`); subclass to change it.
    max_wait_s: ClassVar[float] = DEFAULT_MAX_WAIT_S

    pacer: HeaderPacer | None = None  # the last run's, for counters()

    async def run(self, jobs: Jobs, send: Send) -> None:
        pacer = self.pacer = HeaderPacer(self.quota.rate, self.max_wait_s)

        async def one(job: Job) -> None:
            await call_with_retries(lambda: pacer.send(send, job), self.policy, self.rng)

        await for_each(jobs, one)

    def counters(self) -> dict[str, int]:
        return pacer_counters(self.pacer)
