from bench.metrics import peak_window_count
from mock_server.policies import FixedWindow, FixedWindowFromFirst
from mock_server.ticks import from_seconds as ns
from tests.mock_server.timeline import accepted, statuses


def test_clock_aligned_exact_sequence() -> None:
    # Windows [0, 1), [1, 2): three fit in each, whatever their spacing; 1.0 is in the second window.
    p = FixedWindow(3, ns(1.0))
    assert statuses(p, [0.0, 0.1, 0.2, 0.3, 0.99, 1.0, 1.1, 1.2, 1.3, 2.5]) == [
        200,
        200,
        200,
        429,
        429,
        200,
        200,
        200,
        429,
        200,
    ]


def test_clock_aligned_boundary_lets_2l_through_in_a_short_span() -> None:
    # The fixed window's known flaw: L at the end of one window and L at the start of the next,
    # 2L = 6 accepted within 0.15 s, so a sliding 1 s window sees twice the limit.
    times = [0.9, 0.95, 0.99, 1.0, 1.01, 1.05]
    got = accepted(FixedWindow(3, ns(1.0)), times)
    assert got == times
    assert peak_window_count(got, 1.0) == 6


def test_clock_aligned_windows_do_not_start_at_the_first_request() -> None:
    p = FixedWindow(2, ns(10.0))
    # The first request at 9.0 lands in window [0, 10): the count restarts at 10.0, one second later.
    assert statuses(p, [9.0, 9.5, 9.9, 10.0]) == [200, 200, 429, 200]


def test_first_request_anchor_exact_sequence() -> None:
    # Windows open at 0.3 ([0.3, 1.3)), then at the first request at or after 1.3, then 2.3.
    p = FixedWindowFromFirst(2, ns(1.0))
    assert statuses(p, [0.3, 0.5, 0.9, 1.29, 1.3, 1.4, 2.2, 2.3, 2.31]) == [
        200,
        200,
        429,
        429,
        200,
        200,
        429,
        200,
        200,
    ]
    # The same timeline against clock-aligned windows, for contrast: 1.29 is already in window [1, 2).
    assert statuses(FixedWindow(2, ns(1.0)), [0.3, 0.5, 0.9, 1.29, 1.3, 1.4, 2.2, 2.3, 2.31]) == [
        200,
        200,
        429,
        200,
        200,
        429,
        200,
        200,
        429,
    ]


def test_first_request_anchor_boundary() -> None:
    # The window opened by the request at 0.0 ends at 1.0: 2L - 1 = 5 accepted within 0.05 s around it.
    times = [0.0, 0.97, 0.98, 1.0, 1.01, 1.02]
    assert accepted(FixedWindowFromFirst(3, ns(1.0)), times) == times
    assert peak_window_count(times[1:], 1.0) == 5


def test_idle_gap_longer_than_a_window_restarts_the_count() -> None:
    p = FixedWindowFromFirst(1, ns(1.0))
    assert statuses(p, [0.0, 0.5, 5.0, 5.5, 6.0]) == [200, 429, 200, 429, 200]


def test_earliest_remaining_and_reset() -> None:
    p = FixedWindow(2, ns(4.0))
    assert statuses(p, [1.0, 2.0]) == [200, 200]
    assert (p.remaining(ns(3.0)), p.earliest(ns(3.0)), p.reset_after(ns(3.0))) == (0, ns(4.0), ns(1.0))
    assert (p.remaining(ns(4.0)), p.earliest(ns(4.0)), p.reset_after(ns(4.0))) == (2, ns(4.0), ns(4.0))

    q = FixedWindowFromFirst(2, ns(4.0))
    assert statuses(q, [1.0, 2.0]) == [200, 200]
    assert (q.remaining(ns(3.0)), q.earliest(ns(3.0)), q.reset_after(ns(3.0))) == (0, ns(5.0), ns(2.0))
    assert (q.remaining(ns(5.0)), q.reset_after(ns(5.0))) == (2, 0)


def test_window_edge_is_exact_in_ticks() -> None:
    # In floats 0.3 / 0.1 is 2.9999999999999996, which put 0.3 in window 2. In ticks 300 ms is window 3
    # of 100 ms, exactly: 0.25 and 0.3 are in different windows, and 0.3 is the promised instant.
    p = FixedWindow(1, ns(0.1))
    assert statuses(p, [0.25, 0.3]) == [200, 200]
    assert p.earliest(ns(0.3)) == ns(0.4) and statuses(p, [0.4]) == [200]
