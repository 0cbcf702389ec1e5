"""The article's bucket, bugs included: what it really does, measured in virtual time.

``run`` patches ``time.monotonic`` to the virtual clock, which this bucket reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bench.clock import run
from strategies.base import Job, Quota, Tier
from strategies.registry import resolve
from strategies.token_bucket_naive import AsyncTokenBucket, NaiveTokenBucket


async def jobs(n: int) -> AsyncIterator[Job]:
    for i in range(n):
        yield Job(i)


async def grant_times(rate: float, n: int) -> list[float]:
    """Start ``n`` acquirers at once on a fresh bucket; their grant times.

    The bucket must be built inside the run: it stamps ``time.monotonic()`` when constructed, and
    outside ``run`` that is the real clock (hundreds of seconds ahead of virtual 0: the first refill
    would credit negative tokens and it would poll until virtual time caught up).
    """
    bucket, loop, out = AsyncTokenBucket(rate), asyncio.get_running_loop(), []

    async def one() -> None:
        async with bucket:
            out.append(loop.time())

    await asyncio.gather(*(one() for _ in range(n)))
    return out


def test_registered_under_its_name() -> None:
    assert resolve("token-bucket-naive") is NaiveTokenBucket
    assert NaiveTokenBucket.description


def test_capacity_is_truncated_to_an_int() -> None:
    async def capacities() -> list[float]:
        return [AsyncTokenBucket(r).capacity for r in (0.5, 2.5, 10)]

    assert run(capacities()) == [0, 2, 10]


def test_below_one_per_second_acquire_never_returns() -> None:
    """capacity = int(0.5) = 0, and refill is capped at capacity: tokens stay 0 for ever."""

    async def main() -> tuple[bool, float, float]:
        bucket = AsyncTokenBucket(0.5)
        try:
            await asyncio.wait_for(bucket.acquire(), timeout=3600)
        except TimeoutError:
            return False, bucket.tokens, asyncio.get_running_loop().time()
        return True, bucket.tokens, asyncio.get_running_loop().time()

    returned, tokens, now = run(main())
    assert not returned
    assert tokens == 0
    assert now == 3600.0  # an hour of virtual time, polling every 2 s, and not one grant


def test_at_1000_per_second_it_polls_once_per_token_yet_keeps_the_rate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """2000 acquisitions at 1000/s.

    Derivation: the bucket starts full, so 1000 are granted at t=0. After that each token costs one
    ``sleep(1/rate)`` = 1 ms poll, and ``_refill`` credits ``elapsed * rate`` with the fraction
    carried over, so in virtual time (where the sleep is exactly 1 ms and nothing else costs time)
    the polling loses nothing in the long run: one token per 1 ms, the target rate. The one loss
    is a float residue: an interval of 0.000999… s credits 0.999… tokens, which costs one extra
    poll, and that 0.999… is carried for ever without becoming a whole token, so exactly one slot
    (1 ms) is lost. Polling is not what makes this bucket slow; it makes it wake once per token
    with the lock held, and its full start bursts 2r − 2 into the first second.
    (Measured on the real loop as well, without HTTP: 3000 acquisitions take 2.000 s, also on target.)
    """
    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def counting_sleep(delay: float) -> None:
        sleeps.append(delay)
        await real_sleep(delay)

    monkeypatch.setattr(asyncio, "sleep", counting_sleep)  # what the bucket calls
    times = run(grant_times(1000, 2000))
    monkeypatch.undo()

    assert times[:1000] == [0.0] * 1000  # the full bucket
    after = times[1000:]
    assert len(sleeps) == 1000 and set(sleeps) == {0.001}  # one 1 ms poll per token
    achieved = len(after) / after[-1]  # tokens granted after the burst, per second
    assert achieved == pytest.approx(1000, rel=2e-3)  # on target, give or take one lost slot
    assert after[-1] == pytest.approx(1.0, abs=1e-9)  # the 1000th token at 1.0 s, not 0.999 s
    assert sum(t < 1.0 for t in times) == 1998  # 2r − 2 in the first second


def test_fractional_rates_lose_the_fraction_of_their_burst() -> None:
    """2.5/s: capacity int(2.5) = 2 at t=0, then one token per 0.4 s poll, until a float residue:
    at 1.2 s the poll credits (1.2 − 0.8) × 2.5 = 0.9999999999999998 tokens, so it sleeps another
    0.4 s and then releases two at once (1.6 s). A scheduled wake-up would have granted at 1.2."""
    times = run(grant_times(2.5, 6))
    assert times == pytest.approx([0.0, 0.0, 0.4, 0.8, 1.6, 1.6], abs=1e-6)


def test_strategy_bursts_the_full_bucket_then_polls() -> None:
    sent: dict[int, float] = {}

    async def send(job: Job) -> httpx.Response:
        sent[job.id] = asyncio.get_running_loop().time()
        return httpx.Response(200)

    run(NaiveTokenBucket(Quota((Tier(10, 1.0),))).run(jobs(30), send))
    times = sorted(sent.values())
    assert sorted(sent) == list(range(30))
    assert times[:10] == [0.0] * 10
    assert 17 <= sum(t < 1.0 for t in times) <= 19  # ~2r in the first second, like AsyncLimiter(r, 1)


def test_strategy_below_one_per_second_sends_nothing() -> None:
    sent: list[int] = []

    async def send(job: Job) -> httpx.Response:
        sent.append(job.id)
        return httpx.Response(200)

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(NaiveTokenBucket(Quota((Tier(1, 2.0),))).run(jobs(3), send), timeout=600)

    run(main())
    assert sent == []
