"""Exact pacing, policy level: a client sending request ``i`` at ``ceil(i * W / L)`` ticks (never more than
``L`` in any ``[t, t + W)``) is never turned away, for every ``L``, ``W`` on a grid of rates from 0.5/s to
5 000/s, from several start offsets, by every exact algorithm (issue 7).

The sliding counter is the exception, by design: its estimate weighs the whole previous bucket at the
first instant of a bucket, so it turns exactly paced clients away there. Its decisions on the same grid
are checked against the formula evaluated in exact rationals instead.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.metrics import peak_window_count_ns
from mock_server.config import QuotaConfig
from mock_server.policies import build
from mock_server.ticks import MIN_WINDOW_NS, NS_PER_S, ceil_div, from_seconds

#: (limit, window_s): sustained rates 0.5, 1, 3.3, 10, 50, 100, 333, 1 000, 5 000 per second, with windows
#: that are and are not whole or "round" numbers of seconds.
GRID = [(1, 2.0), (1, 1.0), (3, 0.7), (10, 1.0), (7, 0.3), (50, 1.0), (5, 0.1), (100, 1.0), (100, 0.3),
        (1000, 1.0), (50, 0.01), (5000, 1.0), (30, 60.0)]
EXACT = [
    QuotaConfig(1, 1.0, "sliding-log"),
    QuotaConfig(1, 1.0, "fixed-window"),
    QuotaConfig(1, 1.0, "fixed-window", anchor="first"),
    QuotaConfig(1, 1.0, "gcra"),
    QuotaConfig(1, 1.0, "token-bucket"),
]
#: Start offsets (ns): on a window edge, just after one, at the issue's 0.14 s, and an odd instant.
STARTS = [0, 1, 140_000_000, 123_456_789_123]


def paced(limit: int, window_ns: int, n: int, start: int) -> list[int]:
    return [start + ceil_div(i * window_ns, limit) for i in range(n)]


def sends(limit: int) -> int:
    # Three full windows and one more: every edge case recurs (two and one more for the largest limits).
    return (3 if limit < 1000 else 2) * limit + 1


@pytest.mark.parametrize(("limit", "window_s"), GRID, ids=[f"{lim}-per-{w:g}s" for lim, w in GRID])
@pytest.mark.parametrize("kind", EXACT, ids=lambda q: q.algorithm + ("-first" if q.anchor == "first" else ""))
def test_exactly_paced_client_is_never_rejected(limit: int, window_s: float, kind: QuotaConfig) -> None:
    q = QuotaConfig(limit, window_s, kind.algorithm, anchor=kind.anchor)
    times = paced(limit, q.window_ns, sends(limit), 0)
    assert peak_window_count_ns(times, q.window_ns) == limit  # the schedule is exactly at the limit
    for start in STARTS:
        policy = build([q])
        rejected = [t for t in (start + t for t in times) if not policy.decide(t).allowed]
        assert rejected == [], (q, start, rejected[:3])


def test_the_issue_case_one_per_second_from_0_14() -> None:
    # 0.14 + 1.0 is 1.1400000000000001 in floats: the 2nd request was rejected. In ticks it is not.
    for kind in EXACT:
        policy = build([QuotaConfig(1, 1.0, kind.algorithm, anchor=kind.anchor)])
        assert [policy.decide(from_seconds(t)).allowed for t in (0.14, 1.14, 2.14, 3.14)] == [True] * 4, kind


def _counter_accepts(times: list[int], limit: int, window_ns: int) -> list[bool]:
    """The sliding-counter rule in exact rationals, straight from its definition."""
    counts: dict[int, int] = {}
    out = []
    for t in times:
        k, e = divmod(t, window_ns)
        estimate = counts.get(k - 1, 0) * Fraction(window_ns - e, window_ns) + counts.get(k, 0)
        ok = estimate + 1 <= limit
        if ok:
            counts[k] = counts.get(k, 0) + 1
        out.append(ok)
    return out


@pytest.mark.parametrize(("limit", "window_s"), GRID, ids=[f"{lim}-per-{w:g}s" for lim, w in GRID])
def test_sliding_counter_on_the_paced_grid_is_exactly_its_formula(limit: int, window_s: float) -> None:
    q = QuotaConfig(limit, window_s, "sliding-counter")
    for start in STARTS:
        times = paced(limit, q.window_ns, sends(limit), start)
        policy = build([q])
        assert [policy.decide(t).allowed for t in times] == _counter_accepts(times, limit, q.window_ns)


def test_sliding_counter_turns_an_exactly_paced_client_away_at_bucket_starts() -> None:
    # 2 per 1 s, sent at 0, 0.5, 1.0, 1.5, ...: at 1.0 the previous bucket (2) still weighs in fully, the
    # estimate is 2 and one more would make 3 > 2. From 2.0 on, every other one fits: half the rate.
    policy = build([QuotaConfig(2, 1.0, "sliding-counter")])
    got = [policy.decide(from_seconds(0.5 * i)).allowed for i in range(8)]
    assert got == [True, True, False, True, True, False, True, False]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.floats(0.5, 5000), st.integers(0, 10**12), st.sampled_from(EXACT))
def test_exact_pacing_at_any_limit_and_rate(limit: int, rate: float, start: int, kind: QuotaConfig) -> None:
    # Beyond the grid: any limit, any window giving 0.5..5 000 per second (not a round number of ns).
    window_ns = max(MIN_WINDOW_NS, round(limit / rate * NS_PER_S))
    q = QuotaConfig(limit, window_ns / NS_PER_S, kind.algorithm, anchor=kind.anchor)
    policy = build([q])
    times = paced(limit, q.window_ns, 2 * limit + 1, start)
    assert all(policy.decide(t).allowed for t in times), (q, start)
