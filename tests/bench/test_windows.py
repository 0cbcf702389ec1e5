"""Trailing-window counts (the burst chart's series) and the peak-keeping envelope, hand-computed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.metrics import peak_window_count_ns
from bench.windows import max_envelope, trailing_counts


def test_counts_at_each_arrival_by_hand() -> None:
    # Window 1 000 ms. At 1 200: 500, 999, 1 200 (0 left at 1 000). At 2 000: 1 200 and 2 000 (999 left at 1 999).
    assert trailing_counts([0, 500, 999, 1200, 2000], 1000) == [1, 2, 3, 3, 2]


def test_an_arrival_exactly_one_window_old_has_left() -> None:
    # Half-open [s, s + W): two arrivals W apart never share a window, as in peak_window_count.
    assert trailing_counts([0, 1000, 2000], 1000) == [1, 1, 1]
    # In ns, 0.14 s and 1.14 s are exactly one window apart (in float seconds 0.14 + 1.0 is 1.1400000000000001).
    assert trailing_counts([140_000_000, 1_140_000_000], 1_000_000_000) == [1, 1]


def test_equal_times_are_one_instant() -> None:
    assert trailing_counts([500, 0, 0, 0], 1000) == [3, 3, 3, 4]


def test_integer_ticks_exactly() -> None:
    # Nanoseconds: 1 s window; 999_999_999 ns after the first it is still inside, 1 s after it is not.
    ns = [0, 999_999_999, 1_000_000_000, 1_999_999_999]
    assert trailing_counts(ns, 1_000_000_000) == [1, 2, 2, 2]


def test_empty_and_bad_window() -> None:
    assert trailing_counts([], 1000) == []
    with pytest.raises(ValueError, match="window must be > 0"):
        trailing_counts([0], 0)


@given(st.lists(st.integers(0, 5000).map(lambda ms: ms * 1_000_000), max_size=60),
       st.sampled_from([100_000_000, 250_000_000, 1_000_000_000, 3_000_000_000]))
def test_the_series_peak_is_the_metrics_peak(times: list[int], window: int) -> None:
    assert max(trailing_counts(times, window), default=0) == peak_window_count_ns(times, window)


def test_envelope_keeps_the_largest_of_each_slice_at_its_first_time() -> None:
    xs = [0.0, 0.1, 0.2, 0.5, 0.6, 0.95]
    ys = [1, 4, 4, 2, 3, 1]
    # Two slices of [0, 1]: [0, 0.5) → 4 first at 0.1; [0.5, 1] → 3 at 0.6.
    assert max_envelope(xs, ys, 1.0, 2) == ([0.1, 0.6], [4, 3])
    # Slices with nothing in them are skipped; short series pass through unchanged.
    assert max_envelope([0.0, 0.9, 0.95], [1, 2, 5], 1.0, 2) == ([0.0, 0.95], [1, 5])
    assert max_envelope(xs, ys, 1.0, 10) == (xs, ys)


def test_envelope_is_bounded_and_keeps_the_peak() -> None:
    xs = [i / 1000 for i in range(100_000)]
    ys = [(i * 7919) % 1000 for i in range(100_000)]
    ex, ey = max_envelope(xs, ys, 100.0, 500)
    assert len(ex) == len(ey) <= 500 and max(ey) == max(ys)
