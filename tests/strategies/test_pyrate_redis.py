"""pyrate-redis and pyrate-redis-gcra against a real redis-server (bench.redis_server): the clock each trusts
(a skewed host's wall clock lets requests through early); and what a briefly unreachable Redis does (sends
wait; past the patience, the run fails rather than send unthrottled).

Real time and real sockets (virtual time cannot wait on them): assertions are on what the limiter itself
granted (its log in Redis) and on ordering, never on a wall-clock rate. Two client processes sharing one
limiter: tests/bench/test_multiprocess.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pyrate_limiter import Rate, RateItem

from bench import redis_server
from bench.redis_server import RedisServer
from strategies import pyrate_redis
from strategies.base import REDIS_URL_ENV, Job, Quota, Tier
from strategies.pyrate_redis import PyrateRedis, PyrateRedisGcra, connect, gcra_bucket, log_bucket
from strategies.registry import resolve

pytestmark = pytest.mark.skipif(redis_server.unavailable() is not None, reason=str(redis_server.unavailable()))


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as r, redis_server.provide(r.url):
        yield r


async def _jobs(n: int) -> AsyncIterator[Job]:
    for i in range(n):
        yield Job(i)


def test_registered_and_need_redis() -> None:
    assert resolve("pyrate-redis") is PyrateRedis and resolve("pyrate-redis-gcra") is PyrateRedisGcra
    assert redis_server.needs_redis(PyrateRedis) and redis_server.needs_redis(PyrateRedisGcra)
    assert not redis_server.needs_redis(resolve("pyrate-memory"))


def test_without_a_url_the_run_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)

    async def send(job: Job) -> httpx.Response:
        raise AssertionError("sent without a limiter")

    with pytest.raises(RuntimeError, match=REDIS_URL_ENV):
        asyncio.run(PyrateRedis(Quota((Tier(5, 1.0),))).run(_jobs(1), send))


def test_clock_skew_lets_a_clump_through_early(server: RedisServer) -> None:
    """A host whose clock runs 5 ms ahead sees the others' entries leave the window 5 ms early: the sliding
    log admits a whole second clump before the window has truly passed — 2 L in one true window."""

    async def scenario(skew_ms: int) -> int:
        client = connect(server.url)
        try:
            await client.flushall()
            rates = [Rate(4, 400)]
            honest = await log_bucket(client, rates, key="k")
            skewed = await log_bucket(client, rates, key="k", skew_ms=skew_ms)
            assert abs(skewed.now() - honest.now() - skew_ms) <= 1  # the clock it stamps with
            true_t = 10_000_000
            for i in range(4):
                assert await honest.put(RateItem(f"a{i}", true_t))
            # 3 ms before the window has truly passed, each host stamps with its own clock.
            later = true_t + 400 - 3
            return sum([await skewed.put(RateItem(f"b{i}", later + skew_ms)) for i in range(4)])
        finally:
            await client.aclose()

    assert asyncio.run(scenario(0)) == 0  # same clock: refused until the window has passed
    assert asyncio.run(scenario(5)) == 4  # 5 ms ahead: a whole clump, 8 in one true 400 ms window


def test_sliding_log_misses_an_entry_another_process_stamped_later(server: RedisServer) -> None:
    """pyrate's Redis log counts the window up to the *caller's* stamp (``ZCOUNT key start now``). Two processes
    stamp before their scripts run; when the later stamp's script runs first, the earlier one does not see it:
    one request over the limit, per process racing at the window's edge. GCRA has no such race (it takes the
    stored state when it is ahead of ``now``)."""

    async def admitted(log: bool) -> int:
        client = connect(server.url)
        try:
            await client.flushall()
            a = await log_bucket(client, [Rate(4, 400)], key="r") if log else \
                gcra_bucket(client, [Rate(4, 400, burst=4)], key="r")
            b = await log_bucket(client, [Rate(4, 400)], key="r") if log else \
                gcra_bucket(client, [Rate(4, 400, burst=4)], key="r")
            for i in range(3):
                assert await a.put(RateItem(f"a{i}", 10_000))
            assert await a.put(RateItem("a3", 10_002))  # process A stamped 10 002, its script ran first
            return int(await b.put(RateItem("b0", 10_001)))  # process B stamped 10 001, just before A
        finally:
            await client.aclose()

    assert asyncio.run(admitted(log=True)) == 1  # 5 in one 400 ms window: one over
    assert asyncio.run(admitted(log=False)) == 0


def test_clock_skew_on_gcra_costs_only_the_skew(server: RedisServer) -> None:
    """GCRA (burst 1, one every 100 ms): a host 5 ms ahead is admitted 5 ms early, not a clump early."""

    async def admitted(skew_ms: int, at_ms: int) -> bool:
        client = connect(server.url)
        try:
            await client.flushall()
            rates = [Rate(10, 1000, burst=1)]
            assert await gcra_bucket(client, rates, key="g").put(RateItem("a", 10_000_000))
            return bool(await gcra_bucket(client, rates, key="g", skew_ms=skew_ms)
                        .put(RateItem("b", 10_000_000 + at_ms + skew_ms)))
        finally:
            await client.aclose()

    assert not asyncio.run(admitted(0, 96)) and asyncio.run(admitted(0, 100))
    assert asyncio.run(admitted(5, 96))  # 4 ms early: inside the 5 ms skew
    assert not asyncio.run(admitted(5, 94))  # 6 ms early: beyond it


def test_a_briefly_unreachable_redis_holds_sends_back(server: RedisServer) -> None:
    """Redis paused (SIGSTOP) for 0.6 s right after the 3rd send: nothing is sent while it is away (the next grant
    waits for it: socket timeouts and backoff retries), and every job is sent once it is back."""
    sent: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def send(job: Job) -> httpx.Response:
            sent.append(loop.time())
            if len(sent) == 3:
                server.pause()
                loop.call_later(0.6, server.resume)
            return httpx.Response(200)

        await PyrateRedisGcra(Quota((Tier(20, 1.0),))).run(_jobs(8), send)

    asyncio.run(main())
    assert len(sent) == 8
    assert sent[3] - sent[2] >= 0.55  # the pause (less timer slack), with nothing sent meanwhile


def test_a_redis_gone_for_good_fails_the_run_rather_than_send_unthrottled(server: RedisServer,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pyrate_redis, "RETRIES", 2)  # short patience: the test needs no 5 s
    sent: list[int] = []

    async def main() -> None:
        async def send(job: Job) -> httpx.Response:
            sent.append(job.id)
            if job.id == 2:
                server.__exit__(None, None, None)  # Redis stops for good
            return httpx.Response(200)

        await PyrateRedisGcra(Quota((Tier(50, 1.0),))).run(_jobs(10), send)

    with pytest.raises(BaseException) as caught:
        asyncio.run(main())
    assert "onnection" in repr(caught.value) or "imeout" in repr(caught.value)
    assert sent == [0, 1, 2]  # nothing sent once the limiter could not ask Redis
