"""CPU cost of ONE uncontended acquire, per limiter library (pytest-benchmark; ``make bench-overhead``).

Each limiter is configured with a rate so high that no acquire ever has to wait for capacity, so what
is measured is the bookkeeping: ``acquire`` (+ release, where there is one) inside a running asyncio
loop. One benchmark round runs ``N`` acquires back to back in one ``loop.run_until_complete`` (so
the loop's own start-up is spread over ``N``); ``benchmarks/render.py`` divides the round's time by
``N`` (recorded in ``extra_info``). A plain ``asyncio.Semaphore`` and an empty ``await`` are the
baselines.

Not under ``tests/``: ``make test`` never runs it, and pyproject's ``--benchmark-skip`` skips it
unless ``--benchmark-only`` is given (the Makefile target does).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiometer
import pytest
from aiolimiter import AsyncLimiter
from asyncio_throttle.throttler import Throttler
from asynciolimiter import LeakyBucketLimiter, Limiter, StrictLimiter
from pyrate_limiter import Duration, InMemoryBucket, Rate, SQLiteBucket
from pyrate_limiter import Limiter as PyrateLimiter

from bench import redis_server
from strategies.base import REDIS_URL_ENV
from strategies.pyrate import _Offloaded
from strategies.pyrate_redis import connect, gcra_bucket, log_bucket
from strategies.token_bucket import TokenBucket

#: "Never waits": a billion per second, with room for a billion at once where there is a bucket size.
HUGE = 1_000_000_000

#: Acquires per round: enough that run_until_complete's fixed cost is noise; SQLite commits each one.
N_FAST = 2000
N_SQLITE = 100
#: A Redis acquire is a round trip to a redis-server on 127.0.0.1 (bench.redis_server, started for the session).
N_REDIS = 200

#: name -> (acquires per round, factory of an async context manager giving one "acquire" coroutine fn)
Acquire = Callable[[], Awaitable[Any]]
Factory = Callable[[], Any]


async def _noop() -> None:
    return None


@asynccontextmanager
async def baseline_await() -> AsyncIterator[Acquire]:
    yield _noop


@asynccontextmanager
async def baseline_semaphore() -> AsyncIterator[Acquire]:
    sem = asyncio.Semaphore(HUGE)

    async def acquire() -> None:
        async with sem:
            pass

    yield acquire


@asynccontextmanager
async def token_bucket() -> AsyncIterator[Acquire]:
    bucket = TokenBucket(HUGE, capacity=HUGE)

    async def acquire() -> None:
        async with bucket:
            pass

    yield acquire


@asynccontextmanager
async def aiolimiter() -> AsyncIterator[Acquire]:
    limiter = AsyncLimiter(HUGE, 1)

    async def acquire() -> None:
        async with limiter:
            pass

    yield acquire


@asynccontextmanager
async def asyncio_throttle() -> AsyncIterator[Acquire]:
    throttler = Throttler(rate_limit=HUGE, period=1.0)

    async def acquire() -> None:
        async with throttler:
            pass

    yield acquire


@asynccontextmanager
async def asynciolimiter_plain() -> AsyncIterator[Acquire]:
    # After every pass Limiter locks until 1/r later: back-to-back acquires each wait for one timer
    # wake-up (due at once at this rate), so this is the cost of a pass *plus* one loop iteration.
    limiter = Limiter(HUGE)
    yield limiter.wait
    limiter.close()


@asynccontextmanager
async def asynciolimiter_strict() -> AsyncIterator[Acquire]:
    limiter = StrictLimiter(HUGE)  # same locking as Limiter
    yield limiter.wait
    limiter.close()


@asynccontextmanager
async def asynciolimiter_leaky() -> AsyncIterator[Acquire]:
    limiter = LeakyBucketLimiter(HUGE, capacity=HUGE)  # never full: every wait() passes at once
    yield limiter.wait
    limiter.close()


@asynccontextmanager
async def pyrate_memory() -> AsyncIterator[Acquire]:
    limiter = PyrateLimiter(InMemoryBucket([Rate(HUGE, Duration.SECOND)]), buffer_ms=0)
    yield lambda: limiter.try_acquire_async("bench")
    limiter.close()


@asynccontextmanager
async def pyrate_sqlite() -> AsyncIterator[Acquire]:
    # The library as shipped: put() (a query and a COMMIT) runs on the loop's thread.
    with tempfile.TemporaryDirectory() as d:
        bucket = SQLiteBucket.init_from_file([Rate(HUGE, Duration.SECOND)], db_path=str(Path(d) / "b.sqlite"))
        limiter = PyrateLimiter(bucket, buffer_ms=0)
        yield lambda: limiter.try_acquire_async("bench")
        limiter.close()


@asynccontextmanager
async def pyrate_sqlite_offloaded() -> AsyncIterator[Acquire]:
    # As the pyrate-sqlite strategy runs it on a real loop: every bucket call on one worker thread.
    with tempfile.TemporaryDirectory() as d, ThreadPoolExecutor(1) as executor:
        inner = SQLiteBucket.init_from_file([Rate(HUGE, Duration.SECOND)], db_path=str(Path(d) / "b.sqlite"))
        bucket = _Offloaded(inner, executor)
        limiter = PyrateLimiter(bucket, buffer_ms=0)
        yield lambda: limiter.try_acquire_async("bench")
        limiter.dispose(bucket)
        limiter.close()


@asynccontextmanager
async def pyrate_redis() -> AsyncIterator[Acquire]:
    # As the pyrate-redis strategy: RedisBucket (sliding log, one Lua script per acquire) over redis.asyncio.
    client = connect(os.environ[REDIS_URL_ENV])
    bucket = await log_bucket(client, [Rate(HUGE, Duration.SECOND)], key="bench-log")
    limiter = PyrateLimiter(bucket, buffer_ms=0)
    yield lambda: limiter.try_acquire_async("bench")
    limiter.dispose(bucket)
    await client.aclose()


@asynccontextmanager
async def pyrate_redis_gcra() -> AsyncIterator[Acquire]:
    # As the pyrate-redis-gcra strategy: GCRA state (one hash) in Redis, one Lua script per acquire.
    client = connect(os.environ[REDIS_URL_ENV])
    bucket = gcra_bucket(client, [Rate(HUGE, Duration.SECOND, burst=HUGE)], key="bench-gcra")
    limiter = PyrateLimiter(bucket, buffer_ms=0)
    yield lambda: limiter.try_acquire_async("bench")
    limiter.dispose(bucket)
    await client.aclose()


#: (id, acquires per round, limiter factory, what one acquire is)
CASES: list[tuple[str, int, Factory, str]] = [
    ("baseline: await a no-op coroutine", N_FAST, baseline_await, "`await noop()`"),
    ("baseline: asyncio.Semaphore", N_FAST, baseline_semaphore, "`async with Semaphore(big)`"),
    ("token-bucket (ours)", N_FAST, token_bucket, "`async with TokenBucket(1e9, capacity=1e9)`"),
    ("aiolimiter", N_FAST, aiolimiter, "`async with AsyncLimiter(1e9, 1)`"),
    ("asyncio-throttle", N_FAST, asyncio_throttle, "`async with Throttler(1e9, 1.0)`"),
    ("asynciolimiter Limiter", N_FAST, asynciolimiter_plain, "`await Limiter(1e9).wait()` (one timer wake-up each)"),
    ("asynciolimiter StrictLimiter", N_FAST, asynciolimiter_strict,
     "`await StrictLimiter(1e9).wait()` (one timer wake-up each)"),
    ("asynciolimiter LeakyBucketLimiter", N_FAST, asynciolimiter_leaky,
     "`await LeakyBucketLimiter(1e9, capacity=1e9).wait()`"),
    ("pyrate memory", N_FAST, pyrate_memory, "`await try_acquire_async()`, InMemoryBucket"),
    ("pyrate sqlite", N_SQLITE, pyrate_sqlite, "`await try_acquire_async()`, SQLiteBucket on the loop thread"),
    ("pyrate sqlite, offloaded", N_SQLITE, pyrate_sqlite_offloaded,
     "as the pyrate-sqlite strategy: SQLite on a worker thread"),
    ("pyrate redis (sliding log)", N_REDIS, pyrate_redis,
     "`await try_acquire_async()`, RedisBucket over redis.asyncio (a round trip to 127.0.0.1)"),
    ("pyrate redis GCRA", N_REDIS, pyrate_redis_gcra,
     "`await try_acquire_async()`, GCRA in a Redis hash (a round trip to 127.0.0.1)"),
]
NEEDS_REDIS = {pyrate_redis, pyrate_redis_gcra}


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str | None]:
    """A private redis-server for the Redis rows (None where none can be had: those rows are skipped)."""
    if redis_server.unavailable() is not None:
        yield None
        return
    with redis_server.RedisServer() as r, redis_server.provide(r.url):
        yield r.url


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


@pytest.mark.parametrize(("name", "n", "factory", "what"), CASES, ids=[c[0] for c in CASES])
def test_acquire(benchmark: Any, loop: asyncio.AbstractEventLoop, name: str, n: int, factory: Factory,
                 what: str, request: pytest.FixtureRequest) -> None:
    if factory in NEEDS_REDIS and request.getfixturevalue("redis_url") is None:
        pytest.skip(f"{name}: {redis_server.unavailable()}")
    async def enter() -> tuple[Any, Acquire]:
        cm = factory()
        return cm, await cm.__aenter__()

    cm, acquire = loop.run_until_complete(enter())

    async def many() -> None:
        for _ in range(n):
            await acquire()

    benchmark.extra_info.update(label=name, acquires=n, what=what)
    benchmark.pedantic(lambda: loop.run_until_complete(many()), rounds=15 if n in (N_SQLITE, N_REDIS) else 40,
                       warmup_rounds=2)
    loop.run_until_complete(cm.__aexit__(None, None, None))


@pytest.mark.parametrize("n", [N_FAST])
def test_aiometer_per_task(benchmark: Any, loop: asyncio.AbstractEventLoop, n: int) -> None:
    """aiometer has no acquire: its cost is per task started by run_on_each (meters + anyio task)."""

    async def noop(_: int) -> None:
        return None

    async def many() -> None:
        await aiometer.run_on_each(noop, range(n), max_at_once=HUGE, max_per_second=HUGE)

    benchmark.extra_info.update(label="aiometer (per task)", acquires=n,
                                what="one task of `run_on_each(noop, range(n), max_at_once=1e9, max_per_second=1e9)`")
    benchmark.pedantic(lambda: loop.run_until_complete(many()), rounds=40, warmup_rounds=2)


@pytest.mark.parametrize("n", [N_FAST])
def test_baseline_task_spawn(benchmark: Any, loop: asyncio.AbstractEventLoop, n: int) -> None:
    """The floor under aiometer's figure: one asyncio task per item, gathered."""

    async def noop() -> None:
        return None

    async def many() -> None:
        async with asyncio.TaskGroup() as tg:
            for _ in range(n):
                tg.create_task(noop())

    benchmark.extra_info.update(label="baseline: one asyncio task", acquires=n, what="`TaskGroup.create_task(noop())`")
    benchmark.pedantic(lambda: loop.run_until_complete(many()), rounds=40, warmup_rounds=2)
