"""The adaptive strategy for token quotas: :mod:`strategies.adaptive_headers` for the requests, plus a
gate that reads the tokens tier from the headers (OpenAI's ``x-ratelimit-remaining-tokens`` /
``-reset-tokens``, Anthropic's ``anthropic-ratelimit-tokens-*``: :func:`~strategies.ratelimit_headers.parse`).

:class:`TokenGate` keeps the tokens the server said remain, minus the costs of the requests sent
after the answered one and not yet answered (the server had not counted them), and lets a job of cost
``n`` go only while at least ``n`` are left; otherwise it sleeps until the server's token reset and
then sends one job alone (a *probe*) whose answer says how much came back. Before the first answer
it knows nothing, so the first job is a probe too. Answers can come back out of order (latency grows
with cost): an answer to a request sent before the one whose answer was last applied is stale, and
only its ``Retry-After`` is used. An API that sends no token headers leaves the gate open. Waiters
go in FIFO order (one ``asyncio.Lock``), each sleeping on one scheduled wake-up or on the probe's
answer: no polling. A 429 is retried after
the server's ``retry-after-ms`` / ``Retry-After`` (:class:`~strategies.retry_policy.RetryPolicy`).

As :mod:`strategies.adaptive_headers` keeps the declared request rate as its floor, this keeps the
declared token tiers as a floor: a :class:`~strategies.token_bucket_weighted.WeightedBucket` over them
(75 % of the tier's rate, see there). The headers can only slow it down. Why a floor: the mock's (and
the IETF drafts') reset is "until the count next grows", so after a reset the client cannot tell how
many tokens came back; the probe alone then overshoots by up to one job (measured: 3 × 429 in
``llm-api`` without the floor).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import httpx

from strategies.adaptive_headers import HeaderPacer, pacer_counters
from strategies.base import Job, Jobs, Send, for_each
from strategies.ratelimit_headers import parse
from strategies.retry_policy import Retrying, RetryPolicy, call_with_retries
from strategies.token_bucket_weighted import WeightedBucket

__all__ = ["AdaptiveTokens", "TokenGate"]


class TokenGate:
    """Admits jobs by the tokens the last answer said remain (see the module doc).

        >>> from bench.clock import run
        >>> async def demo() -> list[float]:
        ...     gate, loop, out = TokenGate(), asyncio.get_running_loop(), []
        ...     for cost in (30, 30, 50):
        ...         ticket = await gate.acquire(cost)
        ...         out.append(loop.time())
        ...         left = 100 - sum((30, 30, 50)[: len(out)])
        ...         headers = {"x-ratelimit-remaining-tokens": str(max(0, left)),
        ...                    "x-ratelimit-reset-tokens": "2s"}
        ...         gate.observe(httpx.Response(200, headers=headers), ticket)
        ...     return out
        >>> run(demo())   # 40 left after two: the 50 waits for the 2 s reset, then goes as a probe
        [0.0, 0.0, 2.0]
    """

    def __init__(self) -> None:
        self._left: int | None = None  # tokens believed left; None: unknown (send a probe)
        self._reset_at = 0.0  # loop time the server's token count next grows
        self._gate = 0.0  # nothing goes before this (Retry-After)
        self._flight: dict[int, int] = {}  # ticket -> cost, sent and not yet answered (tickets count up)
        self._tickets = 0
        self._applied = -1  # the latest ticket whose answer set _left
        self._probing = False
        self._untracked = False  # the server's answers carry no token headers: nothing to gate on
        self._answered: asyncio.Event | None = None
        self._lock = asyncio.Lock()

    async def acquire(self, cost: int) -> int:
        """Wait until ``cost`` tokens may go; the ticket returned goes back to :meth:`observe`."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                now = loop.time()
                if self._gate > now:
                    await asyncio.sleep(self._gate - now)
                elif self._left is None:
                    if self._untracked:
                        break
                    if not self._probing:
                        self._probing = True
                        break
                    self._answered = asyncio.Event()
                    await self._answered.wait()  # the probe's answer tells how much is left
                elif self._left >= cost:
                    self._left -= cost
                    break
                elif self._reset_at > now:
                    await asyncio.sleep(self._reset_at - now)
                    self._left = None  # some came back; how much, only an answer can say
                else:
                    self._left = None
            ticket = self._tickets
            self._tickets += 1
            self._flight[ticket] = cost
            return ticket

    def observe(self, response: httpx.Response | None, ticket: int) -> None:
        """Learn from the answer to the job holding ``ticket`` (``None``: it failed without one)."""
        self._flight.pop(ticket, None)
        loop = asyncio.get_running_loop()
        if response is not None:
            info = parse(response.headers)
            now = loop.time()
            if info.retry_after_s is not None:
                self._gate = max(self._gate, now + info.retry_after_s)
            if info.tokens_remaining is not None and ticket > self._applied:
                self._applied = ticket
                later = sum(c for t, c in self._flight.items() if t > ticket)
                self._left = max(0, info.tokens_remaining - later)
                if info.tokens_reset_after_s is not None:
                    self._reset_at = now + info.tokens_reset_after_s
            elif info.tokens_remaining is None and info.tokens_limit is None:
                self._untracked = True
        if self._probing:
            self._probing = False
            if self._answered is not None:
                self._answered.set()
                self._answered = None


class AdaptiveTokens(Retrying):
    """:class:`~strategies.adaptive_headers.AdaptiveHeaders` for the requests, a :class:`TokenGate` for
    the tokens; 429s retried after the server's delay."""

    name = "adaptive-tokens"
    description = ("adaptive-headers plus a token gate from the token headers (OpenAI / Anthropic dialects): "
                   "remaining tokens minus unanswered costs, a probe after each reset; declared token tiers as floor")
    policy: ClassVar[RetryPolicy] = RetryPolicy(use_reset=True)
    pacer: HeaderPacer | None = None  # the last run's, for counters()

    def counters(self) -> dict[str, int]:
        return pacer_counters(self.pacer)

    async def run(self, jobs: Jobs, send: Send) -> None:
        pacer, gate = HeaderPacer(self.quota.rate), TokenGate()
        self.pacer = pacer
        floor = WeightedBucket(self.quota.token_tiers) if self.quota.token_tiers else None

        async def attempt(job: Job) -> httpx.Response:
            ticket = await gate.acquire(job.cost)
            if floor is not None:
                await floor.acquire(job.cost)
            response: httpx.Response | None = None
            try:
                response = await pacer.send(send, job)
                return response
            finally:
                gate.observe(response, ticket)

        async def one(job: Job) -> None:
            await call_with_retries(lambda: attempt(job), self.policy, self.rng)

        await for_each(jobs, one)
