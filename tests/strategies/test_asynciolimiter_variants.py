"""asynciolimiter Limiter / StrictLimiter / LeakyBucketLimiter at 10/s: steady state and after a stall.

The stall: the loop is blocked for 1 s at t=0.35 (the virtual clock jumps while a callback runs),
so the wake-up due at 0.4 fires at 1.35. What each limiter does then is its character.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from strategies.asynciolimiter_variants import Leaky, Plain, Strict, leaky_capacity
from strategies.base import Quota
from strategies.registry import resolve
from tests.strategies.harness import TICKS, Timeline, arrival_times, drive, end_to_end, quota, scenario, stall

Q = quota(10)


def clumps(times: list[float]) -> list[tuple[float, int]]:
    return sorted(Counter(round(t, 6) for t in times).items())


def stalled(cls: type[Plain | Strict | Leaky], n: int = 30, seconds: float = 1.0) -> Timeline:
    def before() -> None:
        asyncio.get_running_loop().call_at(0.35, stall, seconds)

    return drive(cls(Q), n, before=before)


def test_registered_under_their_names() -> None:
    assert resolve("asynciolimiter") is Plain
    assert resolve("asynciolimiter-strict") is Strict
    assert resolve("asynciolimiter-leaky") is Leaky
    assert Plain.description and Strict.description and Leaky.description


@pytest.mark.parametrize("cls", [Plain, Strict])
def test_plain_and_strict_are_evenly_spaced(cls: type[Plain]) -> None:
    tl = drive(cls(Q), 30)
    assert tl.times == pytest.approx([0.1 * k for k in range(30)], abs=TICKS)
    assert tl.order == list(range(30))  # FIFO
    assert tl.peak(1.0) == 10


def test_leaky_bursts_r_then_one_per_interval() -> None:
    tl = drive(Leaky(Q), 30)
    assert tl.times == pytest.approx([0.0] * 10 + [0.1 * k for k in range(1, 21)], abs=TICKS)
    assert tl.in_window(0.0, 1.0) == 19  # 2r − 1, as AsyncLimiter(r, 1)


def test_plain_catches_up_with_a_clump_of_at_most_5() -> None:
    tl = stalled(Plain)
    # slots 0.4 .. 1.3 were missed (9 of them): min(9 + 1, max_burst=5) go at once, then the schedule
    # resumes on its grid (1.4, 1.5, ...), not 0.1 after the clump
    assert clumps(tl.times)[:7] == [(0.0, 1), (0.1, 1), (0.2, 1), (0.3, 1), (1.35, 5), (1.4, 1), (1.5, 1)]
    assert tl.peak(1.0) == 15  # the clump comes on top of the schedule: r + 5 in [1.35, 2.35)
    longer = stalled(Plain, seconds=3.0)
    assert (3.35, 5) in clumps(longer.times)  # capped at 5 however long the stall


def test_strict_never_catches_up() -> None:
    tl = stalled(Strict)
    # one at 1.35, then 1/r after the *actual* wake-up: the whole schedule moves 0.95 s later
    assert tl.times == pytest.approx([0.0, 0.1, 0.2, 0.3] + [1.35 + 0.1 * k for k in range(26)], abs=TICKS)
    assert tl.peak(1.0) == 10


def test_leaky_drains_during_the_stall_and_bursts_a_full_bucket() -> None:
    tl = stalled(Leaky)
    assert clumps(tl.times)[:6] == [(0.0, 10), (0.1, 1), (0.2, 1), (0.3, 1), (1.35, 10), (1.4, 1)]


def test_leaky_capacity_is_one_seconds_worth_whole() -> None:
    assert (leaky_capacity(10), leaky_capacity(2.5), leaky_capacity(0.5)) == (10, 2, 1)
    tl = drive(Leaky(quota(1, window_s=2.0)), 3)  # 0.5/s, capacity 1
    assert tl.times == pytest.approx([0.0, 2.0, 4.0], abs=TICKS)


@pytest.mark.parametrize(("cls", "peak", "throttled"), [(Plain, 10, 0), (Strict, 10, 0), (Leaky, 19, 9)])
def test_end_to_end(cls: type[Plain], peak: int, throttled: int) -> None:
    r = end_to_end(cls, scenario(10, 30))
    assert r.metrics.peak_window_count == (peak,)
    assert r.metrics.throttled == throttled  # the sliding log refuses the leaky bucket's 2r − 1
    assert len(arrival_times(r)) == 30


@pytest.mark.parametrize("cls", [Plain, Strict, Leaky])
def test_without_a_quota_does_not_wait(cls: type[Plain]) -> None:
    assert set(drive(cls(Quota(())), 10).times) == {0.0}
