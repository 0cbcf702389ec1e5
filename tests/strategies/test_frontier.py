"""The frontier limiter, on exact virtual-time timelines (bench.clock) and through the mock server."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from bench import clock, metrics, netmodel, runner, timer_rate
from strategies.base import Quota, Tier
from strategies.frontier import Frontier, FrontierLimiter
from strategies.registry import resolve
from tests.strategies.harness import TICKS, drive, quota, scenario, stall


async def grant_times(limiter: FrontierLimiter, n: int, hold_s: float = 0.0) -> list[float]:
    """``n`` tasks at once, each ``async with limiter:`` holding it ``hold_s`` (the request); grant times."""
    loop = asyncio.get_running_loop()
    times = [math.nan] * n

    async def one(i: int) -> None:
        async with limiter:
            times[i] = loop.time()
            await asyncio.sleep(hold_s)

    await asyncio.gather(*(one(i) for i in range(n)))
    return times


def test_the_full_limit_per_window_and_not_one_more() -> None:
    tl = drive(Frontier(quota(10)), 50)
    assert tl.times == pytest.approx([float(k // 10) for k in range(50)], abs=TICKS)
    assert tl.peak(1.0) == 10


def test_each_window_is_counted_from_the_end_of_the_send_it_follows() -> None:
    # 10 ms requests: a send's window starts when its answer is in, which is after the server got it
    times = clock.run(grant_times(FrontierLimiter((10, 1.0)), 30, hold_s=0.01))
    assert times == pytest.approx([k // 10 * 1.01 for k in range(30)], abs=TICKS)


def test_every_tier_holds() -> None:
    # 2 per second and 3 per 10 s: worked out by hand in the sliding logs of both tiers
    times = clock.run(grant_times(FrontierLimiter((2, 1.0), (3, 10.0)), 6))
    assert times == pytest.approx([0.0, 0.0, 1.0, 10.0, 10.0, 11.0], abs=TICKS)


def test_a_stall_is_not_followed_by_a_catch_up_that_crosses_the_window() -> None:
    # docs/strategies.md "At a glance": 10/s, 10 ms requests; the loop blocks from 0.35 s to 1.35 s: the grants
    # due at 1.01 come at 1.35 (10 at once, the last window was idle), and the next ones a window after *their*
    # ends (2.36), never the missed slots on top
    tl = drive(Frontier(quota(10)), 40, latency=0.01,
               before=lambda: asyncio.get_running_loop().call_later(0.35, stall, 1.0))
    assert tl.times == pytest.approx([0.0] * 10 + [1.35] * 10 + [2.36] * 10 + [3.37] * 10, abs=TICKS)
    assert tl.in_window(0.0, 1.0) == 10
    assert tl.peak(1.0) == 10


def test_late_timers_cost_once_per_window_not_once_per_token() -> None:
    # Virtual loop with the shipped timer model (epoll's whole-millisecond rounding plus the kernel's slack):
    # 1 000/s as 100 per 100 ms keeps its rate; a capacity-1 bucket pays the lateness on every token.
    profile = netmodel.load_profile(netmodel.DEFAULT)
    frontier = timer_rate.virtual_frontier_fraction(profile, seed=0, limit=100, window_s=0.1, windows=10)
    bucket = timer_rate.virtual_fraction(profile, seed=0, tokens=1000)
    assert frontier >= 0.97
    assert bucket < frontier


def test_a_cancelled_waiter_loses_no_capacity() -> None:
    async def main() -> list[float]:
        limiter, loop, out = FrontierLimiter((1, 1.0)), asyncio.get_running_loop(), []

        async def one() -> None:
            async with limiter:
                out.append(loop.time())

        await one()                                     # t = 0
        doomed = asyncio.create_task(one())             # would be granted at 1.0
        await asyncio.sleep(0.5)
        doomed.cancel()
        await one()                                     # takes its place at 1.0
        return out

    assert clock.run(main()) == pytest.approx([0.0, 1.0], abs=TICKS)


def test_a_waiter_cancelled_after_its_grant_holds_no_place() -> None:
    async def main() -> list[float]:
        limiter, loop, out = FrontierLimiter((1, 1.0), margin_s=0.0), asyncio.get_running_loop(), []
        await limiter.acquire()                         # t = 0
        doomed = asyncio.create_task(limiter.acquire())
        later = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)                          # both queued
        # cancelled in the same loop iteration as its grant at 1.0, before it could resume: it never sends
        loop.call_at(1.0, doomed.cancel)
        await later
        out.append(loop.time())
        return out

    assert clock.run(main()) == pytest.approx([1.0], abs=TICKS)


def test_acquire_alone_anchors_at_grant_plus_margin_and_an_early_end_rearms_the_timer() -> None:
    async def acquire_alone() -> list[float]:
        limiter, loop, out = FrontierLimiter((2, 1.0), margin_s=0.5), asyncio.get_running_loop(), []
        for _ in range(3):
            await limiter.acquire()
            out.append(loop.time())
        return out

    alone = clock.run(acquire_alone())
    ended = clock.run(grant_times(FrontierLimiter((2, 1.0), margin_s=0.5), 3, hold_s=0.1))
    assert alone == pytest.approx([0.0, 0.0, 1.5], abs=TICKS)   # nobody said the sends ended: grant + 0.5
    assert ended == pytest.approx([0.0, 0.0, 1.1], abs=TICKS)   # they ended at 0.1: min(end, grant + margin)


def test_acquire_alone_needs_a_finite_margin() -> None:
    with pytest.raises(ValueError, match="finite margin_s"):
        clock.run(FrontierLimiter((1, 1.0)).acquire())


@pytest.mark.parametrize("tiers, margin, match", [
    ((), math.inf, "at least one"),
    (((0, 1.0),), math.inf, "limit"),
    (((1.5, 1.0),), math.inf, "limit"),
    (((1, 0.0),), math.inf, "window_s"),
    (((1, math.inf),), math.inf, "window_s"),
    (((1, 1.0),), -1.0, "margin_s"),
    (((1, 1.0),), math.nan, "margin_s"),
])
def test_bad_configuration_is_named(tiers: tuple[tuple[int, float], ...], margin: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FrontierLimiter(*tiers, margin_s=margin)


def test_registered_and_without_a_quota_it_limits_nothing() -> None:
    assert resolve("frontier") is Frontier
    assert Frontier(Quota(())).gate() is None
    assert Frontier(Quota((Tier(100, 60.0, "tokens"),))).gate() is None


def test_never_over_the_limit_at_the_server_with_the_measured_network_model() -> None:
    # The mock server in process, with the shipped delay and timer-lateness profile: clumps of sends reach
    # the server milliseconds apart, as over a socket. The server's own sliding log refuses nothing.
    sc = scenario(20, 100)
    profile = netmodel.load_profile(netmodel.DEFAULT)
    for repeat in range(2):
        r = runner.run_virtual(Frontier, sc, repeat, profile)
        assert r.status == "ok", r.error
        assert r.metrics.throttled == 0
        assert r.metrics.peak_window_count == (20,)
        assert metrics.peak_window_count(sorted(a.t for a in r.arrivals), 1.0) == 20
        assert r.metrics.efficiency is not None and r.metrics.efficiency >= 0.95


@pytest.mark.parametrize("seed", range(6))
def test_no_window_of_arrivals_is_crossed_whatever_the_delays(seed: int) -> None:
    # Requests take 1-400 ms; each reaches the server at an unknown instant between its send and its answer
    # (drawn here, never shown to the limiter). Whatever the draw, no server window holds more than the limit;
    # seed 0 also blocks the loop for 0.7 s mid-run.
    rng = random.Random(seed)
    took = [rng.uniform(0.001, 0.4) for _ in range(80)]
    before = (lambda: asyncio.get_running_loop().call_later(1.3, stall, 0.7)) if seed == 0 else None
    tl = drive(Frontier(quota(7, 1.0)), 80, latency=lambda job: took[job.id], before=before)
    arrivals = [tl.sent[j] + rng.random() * (tl.done[j] - tl.sent[j]) for j in range(80)]
    assert metrics.peak_window_count(arrivals, 1.0) <= 7
    assert tl.peak(1.0) == 7  # and the sends use the whole limit


def test_the_real_time_targets_file_judges_the_default_scenario() -> None:
    # `make bench-frontier` runs `--scenario default` and judges it with this file: the gate refuses a run of
    # another scenario, so the file must name what `default` is now (it drifted once, when default became steady).
    import tomllib
    from pathlib import Path

    from bench import scenarios

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "frontier-real.toml"
    assert tomllib.loads(path.read_text())["scenario"] == scenarios.load("default").name
