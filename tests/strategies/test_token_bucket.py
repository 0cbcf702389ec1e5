"""The corrected token bucket, on exact virtual-time timelines (bench.clock)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import httpx
import pytest

from bench.clock import run
from strategies.base import Job, Quota, Tier
from strategies.registry import resolve
from strategies.token_bucket import CorrectedTokenBucket, TokenBucket

EXACT = 1e-6  # one virtual-clock tick


async def grant_times(bucket: TokenBucket, n: int) -> list[float]:
    """Start ``n`` acquirers at once; the virtual time at which each was granted, in start order."""
    loop = asyncio.get_running_loop()
    times = [math.nan] * n

    async def one(i: int) -> None:
        async with bucket:
            times[i] = loop.time()

    await asyncio.gather(*(one(i) for i in range(n)))
    return times


def test_capacity_one_at_10_per_second_grants_exactly_a_tenth_apart() -> None:
    times = run(grant_times(TokenBucket(10, capacity=1), 50))
    assert times == pytest.approx([0.1 * k for k in range(50)], abs=EXACT)


def test_sequential_use_is_spaced_the_same() -> None:
    async def main() -> list[float]:
        bucket, loop, out = TokenBucket(10, capacity=1), asyncio.get_running_loop(), []
        for _ in range(20):
            await bucket.acquire()
            out.append(loop.time())
        return out

    assert run(main()) == pytest.approx([0.1 * k for k in range(20)], abs=EXACT)


def test_half_a_request_per_second_grants_every_two_seconds() -> None:
    # int(0.5) == 0 would never grant; the default capacity is at least one token
    bucket = TokenBucket(0.5)
    assert bucket.capacity == 1.0
    assert run(grant_times(bucket, 5)) == pytest.approx([0.0, 2.0, 4.0, 6.0, 8.0], abs=EXACT)


def test_default_capacity_is_one_seconds_worth() -> None:
    assert TokenBucket(10).capacity == 10.0
    assert TokenBucket(2.5).capacity == 2.5
    times = run(grant_times(TokenBucket(10), 13))
    assert times == pytest.approx([0.0] * 10 + [0.1, 0.2, 0.3], abs=EXACT)


def test_fractional_capacity_keeps_the_fraction() -> None:
    # 2.5 tokens: two at once, the half token left needs half an interval to become whole
    times = run(grant_times(TokenBucket(10, capacity=2.5), 5))
    assert times == pytest.approx([0.0, 0.0, 0.05, 0.15, 0.25], abs=EXACT)


def test_idle_refill_is_capped_at_capacity() -> None:
    async def main() -> tuple[list[float], list[float]]:
        bucket = TokenBucket(10, capacity=3)
        first = await grant_times(bucket, 3)  # drains the full bucket at t=0
        await asyncio.sleep(5)  # 50 tokens' worth of idling...
        return first, await grant_times(bucket, 7)

    first, burst = run(main())
    assert first == [0.0, 0.0, 0.0]
    # ...but only 3 are kept: 3 immediate grants, then one per 0.1 s
    assert burst == pytest.approx([5.0, 5.0, 5.0, 5.1, 5.2, 5.3, 5.4], abs=EXACT)


def test_a_newcomer_never_jumps_the_queue() -> None:
    async def main() -> dict[str, float]:
        bucket, loop = TokenBucket(10, capacity=1), asyncio.get_running_loop()
        got: dict[str, float] = {}

        async def take(name: str, delay: float = 0.0) -> None:
            await asyncio.sleep(delay)
            await bucket.acquire()
            got[name] = loop.time()

        # A takes the token at 0; B queues for 0.1; C arrives exactly at 0.1, when the token is due
        await asyncio.gather(take("A"), take("B"), take("C", 0.1))
        return got

    assert run(main()) == pytest.approx({"A": 0.0, "B": 0.1, "C": 0.2}, abs=EXACT)


async def cancel_some(cancel: set[int], at: float, n: int = 5) -> dict[int, float | str]:
    """Bucket 10/s, capacity 1, drained at t=0; waiters 0..n-1 queue at t=0 in order (planned slots
    0.1, 0.2, …); the ``cancel`` ones are cancelled at ``at``. Outcome per waiter."""
    bucket, loop = TokenBucket(10, capacity=1), asyncio.get_running_loop()
    await bucket.acquire()
    out: dict[int, float | str] = {}

    async def waiter(i: int) -> None:
        try:
            await bucket.acquire()
        except asyncio.CancelledError:
            out[i] = "cancelled"
            raise
        out[i] = loop.time()

    tasks = [asyncio.create_task(waiter(i)) for i in range(n)]
    await asyncio.sleep(at)
    for i in cancel:
        tasks[i].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return out


def test_cancelled_waiters_pass_their_slots_on() -> None:
    """Cancel waiters 0, 2, 3 of 5 at t=0.05, before any slot. Assert the survivors (1 and 4) get
    exactly the next two slots, 0.1 and 0.2, in queue order.

    Why exactly those: the bucket hands out slots 0.1, 0.2, … to whoever is at the head of the FIFO
    queue when each comes due, and a cancelled waiter never consumed anything. So no capacity is
    lost (slot 0.1 is not left empty), no survivor is later than its planned slot (1: 0.1 ≤ 0.2;
    4: 0.2 ≤ 0.5), and FIFO order among survivors is kept. Moving survivors *earlier* is the point:
    keeping their original slots would leave 0.1, 0.3 and 0.4 unused.
    """
    out = run(cancel_some({0, 2, 3}, at=0.05))
    assert out == {0: "cancelled", 2: "cancelled", 3: "cancelled", 1: pytest.approx(0.1, abs=EXACT),
                   4: pytest.approx(0.2, abs=EXACT)}  # fmt: skip


def test_cancelling_after_some_grants_shifts_only_the_queue_behind() -> None:
    # at t=0.15 waiter 0 already has slot 0.1; cancel 1 and 3: 2 takes 0.2 and 4 takes 0.3
    out = run(cancel_some({1, 3}, at=0.15))
    assert out == {0: pytest.approx(0.1, abs=EXACT), 1: "cancelled", 2: pytest.approx(0.2, abs=EXACT),
                   3: "cancelled", 4: pytest.approx(0.3, abs=EXACT)}  # fmt: skip


def test_cancelling_everyone_leaves_the_bucket_as_if_they_never_came() -> None:
    async def main() -> tuple[dict[int, float | str], float, float]:
        out = await cancel_some({0, 1, 2, 3, 4}, at=0.05)
        loop = asyncio.get_running_loop()
        assert loop.time() == pytest.approx(0.05, abs=EXACT)  # no orphan timer kept the clock moving
        bucket = TokenBucket(10, capacity=1)
        await bucket.acquire()
        waiter = asyncio.create_task(bucket.acquire())
        await asyncio.sleep(0.01)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        t0 = loop.time()
        await bucket.acquire()  # the cancelled waiter's slot is still free at t0 + 0.09
        return out, t0, loop.time()

    out, t0, granted = run(main())
    assert set(out.values()) == {"cancelled"}
    assert granted == pytest.approx(t0 + 0.09, abs=EXACT)


def test_granted_then_cancelled_before_resuming_gives_the_token_to_the_next() -> None:
    """The race: the timer grants waiter A at 0.1, and A's task is cancelled in the same loop
    iteration, before it resumes. A raises CancelledError; its token goes to B at 0.1, not lost."""

    async def main() -> dict[str, float | str]:
        bucket, loop = TokenBucket(10, capacity=1), asyncio.get_running_loop()
        await bucket.acquire()
        out: dict[str, float | str] = {}

        async def waiter(name: str) -> None:
            try:
                await bucket.acquire()
            except asyncio.CancelledError:
                out[name] = "cancelled"
                raise
            out[name] = loop.time()

        a, b = asyncio.create_task(waiter("A")), asyncio.create_task(waiter("B"))
        await asyncio.sleep(0)  # both queued; the bucket's timer for slot 0.1 is armed
        # Due in the same iteration as the bucket's timer (within one tick), but after it.
        loop.call_at(0.1 + 5e-7, a.cancel)
        await asyncio.gather(a, b, return_exceptions=True)
        await bucket.acquire()
        out["next"] = loop.time()
        return out

    out = run(main())
    assert out == {
        "A": "cancelled",
        "B": pytest.approx(0.1, abs=EXACT),
        "next": pytest.approx(0.2, abs=EXACT),
    }


def test_no_polling_one_timer_per_grant() -> None:
    """The loop wakes once per slot: 20 queued waiters at 10/s cost 19 timer wake-ups in 1.9 s."""

    async def main() -> int:
        loop = asyncio.get_running_loop()
        bucket = TokenBucket(10, capacity=1)
        calls = 0
        real_call_at = loop.call_at

        def counting_call_at(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            return real_call_at(*args, **kwargs)

        loop.call_at = counting_call_at  # type: ignore[method-assign,assignment]
        try:
            await grant_times(bucket, 20)
        finally:
            del loop.call_at
        return calls

    assert run(main()) == 19


def test_infinite_rate_never_waits() -> None:
    assert run(grant_times(TokenBucket(math.inf), 100)) == [0.0] * 100


@pytest.mark.parametrize(
    ("rate", "capacity"), [(0, None), (-1, None), (math.nan, None), (10, 0.5), (10, math.inf)]
)
def test_rejects_nonsense(rate: float, capacity: float | None) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, capacity)


def test_tokens_reports_the_level() -> None:
    async def main() -> list[float]:
        bucket = TokenBucket(10, capacity=3)
        levels = [bucket.tokens()]
        await grant_times(bucket, 3)
        levels.append(bucket.tokens())
        await asyncio.sleep(0.15)
        levels.append(bucket.tokens())
        await asyncio.sleep(10)
        levels.append(bucket.tokens())
        return levels

    assert run(main()) == pytest.approx([3.0, 0.0, 1.5, 3.0])


# --- the strategy -------------------------------------------------------------------------------


async def jobs(n: int) -> AsyncIterator[Job]:
    for i in range(n):
        yield Job(i)


def run_strategy(strategy: CorrectedTokenBucket, n: int) -> dict[int, float]:
    sent: dict[int, float] = {}

    async def send(job: Job) -> httpx.Response:
        sent[job.id] = asyncio.get_running_loop().time()
        await asyncio.sleep(0.01)
        return httpx.Response(200)

    run(strategy.run(jobs(n), send))
    return sent


def test_registered_under_its_name() -> None:
    assert resolve("token-bucket") is CorrectedTokenBucket
    assert CorrectedTokenBucket.name == "token-bucket"
    assert CorrectedTokenBucket.description


def test_strategy_spaces_requests_at_the_declared_rate() -> None:
    sent = run_strategy(CorrectedTokenBucket(Quota((Tier(10, 1.0),))), 25)
    assert sorted(sent.values()) == pytest.approx([0.1 * k for k in range(25)], abs=EXACT)
    # capacity 1: never more than the limit in any half-open 1 s window
    times = sorted(sent.values())
    assert max(sum(t <= u < t + 1.0 - EXACT for u in times) for t in times) == 10


def test_strategy_uses_the_binding_tier() -> None:
    # 20/s and 60/min: the minute tier binds, one request per second
    sent = run_strategy(CorrectedTokenBucket(Quota((Tier(20, 1.0), Tier(60, 60.0)))), 4)
    assert sorted(sent.values()) == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=EXACT)


def test_strategy_without_a_quota_does_not_wait() -> None:
    sent = run_strategy(CorrectedTokenBucket(Quota(())), 10)
    assert set(sent.values()) == {0.0}
