"""aiolimiter AsyncLimiter(1, 1/r): evenly spaced, never more than one per 1/r, no first-second burst."""

from __future__ import annotations

import pytest

from bench.clock import TICK_S as TICK
from strategies.aiolimiter_smooth import AiolimiterSmooth, smooth_args
from strategies.base import Quota
from strategies.registry import resolve
from tests.strategies.harness import TICKS, arrival_times, drive, end_to_end, gaps, quota, scenario


def test_registered_under_its_name() -> None:
    assert resolve("aiolimiter-smooth") is AiolimiterSmooth
    assert AiolimiterSmooth.description


def test_evenly_spaced_at_one_over_r() -> None:
    tl = drive(AiolimiterSmooth(quota(10)), 30)
    # Each grant is timed from the previous one (no fixed schedule), so lateness accumulates: here a
    # float residue costs one virtual tick (1 µs) now and then; on a real loop, the timer's lateness.
    assert all(0.1 - 1e-9 <= g <= 0.1 + TICK + 1e-9 for g in gaps(tl.times))
    assert tl.times == pytest.approx([0.1 * k for k in range(30)], abs=30 * TICK)
    assert tl.in_window(0.0, 1.0) == 10  # not 19 as AsyncLimiter(10, 1)
    assert tl.peak(1.0) == 10


def test_sub_one_rate() -> None:
    assert smooth_args(0.5) == (1.0, 2.0)
    tl = drive(AiolimiterSmooth(quota(1, window_s=2.0)), 4)
    assert tl.times == pytest.approx([0.0, 2.0, 4.0, 6.0], abs=TICKS)


def test_an_open_loop_stream_is_not_delayed_when_slower_than_r() -> None:
    # released every 0.25 s, limit 10/s: each goes out the moment it is released
    tl = drive(AiolimiterSmooth(quota(10)), 8, releases=[0.25 * k for k in range(8)])
    assert tl.times == pytest.approx([0.25 * k for k in range(8)], abs=TICKS)


def test_end_to_end_never_over_the_limit() -> None:
    r = end_to_end(AiolimiterSmooth, scenario(10, 30))
    assert r.metrics.peak_window_count == (10,) and r.metrics.throttled == 0
    assert all(0.1 - 1e-9 <= g <= 0.1 + TICK + 1e-9 for g in gaps(arrival_times(r)))


def test_without_a_quota_does_not_wait() -> None:
    assert set(drive(AiolimiterSmooth(Quota(())), 10).times) == {0.0}


def test_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        smooth_args(0)
