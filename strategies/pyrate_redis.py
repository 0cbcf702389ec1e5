"""pyrate-limiter v4 with its state in Redis: one quota shared by every client process (issue 12).

Two buckets of pyrate-limiter 4.5, both over ``redis.asyncio`` and both atomic in Redis (a Lua script per
acquire, one round trip), so N processes on one key hold one quota between them:

- :class:`PyrateRedis` (``pyrate-redis``): ``RedisBucket``, pyrate's sliding-window log in a sorted set, one
  ``Rate(L, W)`` per declared tier (:func:`strategies.pyrate.pyrate_rates`), the same algorithm as
  ``pyrate-memory``: clumps of ``L`` every ``W + buffer``.
- :class:`PyrateRedisGcra` (``pyrate-redis-gcra``): ``StateBucket(GCRA(), RedisStateStore)``, the generic
  cell rate algorithm (a token bucket kept as one timestamp per tier, in a Redis hash), ``burst = 1``: one
  request every ``(W + 50 ms) / L``, never a clump. pyrate's ``TokenBucket`` is the same class under another name.

Why pyrate for both: it is the one maintained asyncio library here with a Redis sliding log *and* a Redis
GCRA behind one API (``Limiter.try_acquire_async``), so the two differ only in the algorithm.

**The clock they trust.** Both stamp each acquire with the *client's* wall clock (``time.time_ns`` in ms:
``RedisBucket.now``; ``WallClock`` for the state store), not Redis's ``TIME``. Across hosts, a client whose
clock runs ``d`` ms ahead sees the others' entries leave the window ``d`` ms early: the log admits a whole
clump ``d`` ms before the window has really passed (up to ``2 L`` in one window, tests/strategies/
test_pyrate_redis.py::test_clock_skew), and GCRA lets about ``d · rate`` extra requests through. Within one
machine every process reads the same clock, so the ``shared-quota`` runs are not exposed to it.

**When Redis is briefly unreachable.** The client has short socket timeouts and retries with exponential
backoff (:data:`PATIENCE_S` in all): an acquire waits, holding the limiter's lock, and no request is sent
meanwhile (fail closed: the quota is never guessed). Past that, the acquire raises and the run fails with the
error named, rather than sending unthrottled. A command that reached a paused Redis and is retried may be
counted twice: the error is on the strict side.

The Redis URL comes from the harness (``REDIS_URL_ENV``, strategies/base.py): a private redis-server, emptied
before each run.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import redis.asyncio as aioredis
from pyrate_limiter import AbstractBucket, Limiter, Rate, RedisBucket
from pyrate_limiter.abstracts.algorithm import GCRA
from pyrate_limiter.buckets.redis_state import RedisStateStore
from pyrate_limiter.buckets.state_bucket import StateBucket
from pyrate_limiter.clocks import AbstractClock
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from strategies.base import REDIS_URL_ENV, Job, Jobs, Send, Strategy, for_each
from strategies.pyrate import pyrate_rates

__all__ = ["KEY", "PATIENCE_S", "PyrateRedis", "PyrateRedisGcra", "SkewedWallClock", "connect"]

#: The key every process counts under: one API key, one quota.
KEY = "ratebench"
#: Per-command socket timeout: a Redis that does not answer within this is treated as unreachable.
SOCKET_TIMEOUT_S = 0.25
#: Retries of one command (exponential backoff from 10 ms, capped at 0.5 s): about 5 s of patience in all.
RETRIES = 12
PATIENCE_S = 5.0


def connect(url: str) -> aioredis.Redis:
    """An asyncio Redis client with short timeouts and backoff retries (the module doc's "unreachable")."""
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.01), RETRIES)
    client: aioredis.Redis = aioredis.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S, retry=retry,
        retry_on_error=[RedisConnectionError, RedisTimeoutError])
    return client


class SkewedWallClock(AbstractClock):
    """The wall clock in ms, ``skew_ms`` ahead (negative: behind): one host's clock as another sees it."""

    def __init__(self, skew_ms: int = 0) -> None:
        self.skew_ms = skew_ms

    def now(self) -> int:
        return int(self._get_wall_ms()) + self.skew_ms


class _SkewedRedisBucket(RedisBucket):
    """``RedisBucket`` reads ``time.time_ns`` itself (``now``); here through a :class:`SkewedWallClock`."""

    clock: SkewedWallClock = SkewedWallClock()

    def now(self) -> int:
        return self.clock.now()


async def log_bucket(client: aioredis.Redis, rates: list[Rate], key: str = KEY, skew_ms: int = 0) -> AbstractBucket:
    """pyrate's Redis sliding-log bucket on ``key`` (its Lua script loaded), stamping with a clock ``skew_ms``
    ahead of this host's wall clock."""
    bucket: _SkewedRedisBucket = await _SkewedRedisBucket.init(rates, client, key)
    bucket.clock = SkewedWallClock(skew_ms)
    return bucket


def gcra_bucket(client: aioredis.Redis, rates: list[Rate], key: str = KEY, skew_ms: int = 0) -> AbstractBucket:
    """pyrate's GCRA over Redis on ``key``; ``rates`` carry the burst (1: perfectly smooth)."""
    bucket: AbstractBucket = StateBucket(rates, GCRA(), RedisStateStore(client, key), clock=SkewedWallClock(skew_ms))
    return bucket


class _PyrateRedis(Strategy):
    requires: ClassVar[tuple[str, ...]] = ("redis",)
    #: Added by pyrate to every wait (``Limiter(buffer_ms=...)``).
    buffer_ms: ClassVar[int] = 0

    def rates(self) -> list[Rate]:
        return pyrate_rates(self.quota.tiers)

    async def bucket(self, client: aioredis.Redis) -> AbstractBucket:
        raise NotImplementedError

    async def run(self, jobs: Jobs, send: Send) -> None:
        if not self.quota.tiers:  # no declared quota: nothing to limit
            await for_each(jobs, send)
            return
        url = os.environ.get(REDIS_URL_ENV)
        if not url:
            raise RuntimeError(f"{self.name} needs a Redis: set {REDIS_URL_ENV} to a redis:// URL "
                               f"(the harness does, bench/redis_server.py)")
        client = connect(url)
        try:
            bucket = await self.bucket(client)
            limiter = Limiter(bucket, buffer_ms=self.buffer_ms)
            try:
                await for_each(jobs, _acquire_then(limiter, send))
            finally:
                limiter.dispose(bucket)  # stops its leaker task
        finally:
            await client.aclose()


def _acquire_then(limiter: Any, send: Send) -> Callable[[Job], Awaitable[None]]:
    async def one(job: Job) -> None:
        if not await limiter.try_acquire_async(KEY):
            raise RuntimeError(f"pyrate refused {KEY!r} for good")  # only a weight that can never fit
        await send(job)

    return one


class PyrateRedis(_PyrateRedis):
    """``Limiter(RedisBucket([Rate(L, W) per tier], redis.asyncio client, KEY), buffer_ms=…)``: the sliding
    log of ``pyrate-memory``, shared through Redis by every process on the key."""

    name = "pyrate-redis"
    description = "pyrate-limiter v4 RedisBucket (sliding log in a Redis sorted set, redis.asyncio): one quota " \
                  "for all processes"
    #: pyrate's own default margin, kept here (``pyrate-memory`` normalises it to 0, so that limiters compare
    #: at the declared rate): a clump is stamped by one process and sent by several, whose requests reach the
    #: server up to tens of ms apart; with 0, shared-quota runs got 429s (docs/scaling.md).
    buffer_ms = 50

    async def bucket(self, client: aioredis.Redis) -> AbstractBucket:
        return await log_bucket(client, self.rates())


class PyrateRedisGcra(_PyrateRedis):
    """``Limiter(StateBucket([Rate(L, W + 50 ms, burst=1) per tier], GCRA(), RedisStateStore(client, KEY)))``:
    one request every ``(W + 50 ms) / L``, shared through Redis."""

    name = "pyrate-redis-gcra"
    description = "pyrate-limiter v4 GCRA (token bucket as one timestamp in a Redis hash), burst 1: smooth, " \
                  "one quota for all processes"

    #: Added to every window: ``Rate(L, W + margin, burst=1)``, one request every ``(W + margin) / L``. A GCRA
    #: spaced exactly ``W / L`` puts the ``L + 1``-th request exactly one window after the first, so any
    #: jitter between grant and arrival (one late request among twenty) is a 429 at the server: the first
    #: shared-quota run without it got 1 × 429. 50 ms is pyrate's own default ``buffer_ms``, spread over the
    #: window instead of added to every wait (that would double the spacing at 20/s).
    margin_ms: ClassVar[int] = 50

    def rates(self) -> list[Rate]:
        return [Rate(r.limit, r.interval + self.margin_ms, burst=1) for r in pyrate_rates(self.quota.tiers)]

    async def bucket(self, client: aioredis.Redis) -> AbstractBucket:
        return gcra_bucket(client, self.rates())
