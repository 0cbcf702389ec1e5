"""asyncio-throttle Throttler(r, 1.0): a polling sliding log, releases clumped at the window edges."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from asyncio_throttle.throttler import Throttler

from bench.clock import run
from strategies.base import Quota, Tier
from strategies.registry import resolve
from strategies.throttler import Throttle, throttler_args
from tests.strategies.harness import TICKS, arrival_times, drive, end_to_end, gaps, quota, scenario


def clumps(times: list[float]) -> dict[float, int]:
    return dict(sorted(Counter(round(t, 6) for t in times).items()))


def test_registered_under_its_name() -> None:
    assert resolve("asyncio-throttle") is Throttle
    assert Throttle.description


def test_clumps_of_r_at_the_window_edges() -> None:
    # an entry leaves the log when now - t > 1.0 (strictly), seen at the next 10 ms poll: 1.01
    tl = drive(Throttle(quota(10)), 30)
    assert clumps(tl.times) == {0.0: 10, 1.01: 10, 2.02: 10}
    assert tl.peak(1.0) == 10  # never over the limit...
    assert tl.finished == pytest.approx(2.02, abs=TICKS)  # ...and 1 % slower than 10/s


def test_no_fifo_whoever_polls_first_wins() -> None:
    tl = drive(Throttle(quota(10)), 30)
    second = sorted(j for j, t in tl.sent.items() if t == pytest.approx(1.01, abs=TICKS))
    assert second != list(range(10, 20))  # jobs 10..19 queued first, but not all of them go next
    assert second == [10, 12, 14, 23, 24, 25, 26, 27, 28, 29]


def test_every_waiter_polls_every_10_ms() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        polls = 0
        real_call_at = loop.call_at

        def counting_call_at(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal polls
            polls += 1
            return real_call_at(*args, **kwargs)

        t = Throttler(rate_limit=1, period=1.0)
        await t.acquire()  # type: ignore[no-untyped-call]
        loop.call_at = counting_call_at  # type: ignore[method-assign,assignment]
        try:
            await asyncio.gather(t.acquire(), t.acquire())  # type: ignore[no-untyped-call]  # two waiters for 2.02 s
        finally:
            del loop.call_at
        return polls

    # waiter A polls until 1.01 (101 sleeps); B until 2.02 (202 sleeps): ~100 wake-ups per waiter-second
    assert run(main()) == 101 + 202


def test_reads_time_monotonic_which_the_virtual_clock_patches() -> None:
    async def main() -> tuple[float, float]:
        t = Throttler(rate_limit=1, period=1.0)
        await t.acquire()  # type: ignore[no-untyped-call]
        await t.acquire()  # type: ignore[no-untyped-call]
        return time.monotonic(), asyncio.get_running_loop().time()

    mono, loop_time = run(main())
    assert mono == loop_time == pytest.approx(1.01, abs=TICKS)


def test_a_fractional_rate_keeps_every_window_under_its_limit() -> None:
    # 5 per 2 s (2.5/s): Throttler(2, 0.8) would put 6 in [0, 2); one per 0.4 s (+ a poll) does not
    assert throttler_args(Quota((Tier(5, 2.0),))) == (1, 0.4)
    tl = drive(Throttle(quota(5, window_s=2.0)), 12)
    assert tl.peak(2.0) == 5
    # the next poll after the 0.4 s period (0.41 later; 0.40 when float subtraction lands just above 0.4)
    assert all(0.4 - TICKS <= g <= 0.41 + TICKS for g in gaps(tl.times))


def test_below_one_per_second() -> None:
    assert throttler_args(Quota((Tier(1, 2.0),))) == (1, 2.0)
    tl = drive(Throttle(quota(1, window_s=2.0)), 3)
    assert tl.times == pytest.approx([0.0, 2.01, 4.02], abs=TICKS)


def test_end_to_end_never_over_the_limit() -> None:
    r = end_to_end(Throttle, scenario(10, 30))
    assert r.metrics.peak_window_count == (10,) and r.metrics.throttled == 0
    assert clumps(arrival_times(r)) == {0.0: 10, 1.01: 10, 2.02: 10}


def test_without_a_quota_does_not_wait() -> None:
    assert set(drive(Throttle(Quota(())), 10).times) == {0.0}


def test_rejects_no_rate() -> None:
    with pytest.raises(ValueError):
        throttler_args(Quota(()))
