from bench.metrics import peak_window_count
from mock_server.policies import SlidingLog, Tiered
from mock_server.ticks import from_seconds as ns
from tests.mock_server.timeline import accepted, statuses


def test_exact_sequence_limit_3_per_second() -> None:
    # Accepted at 0.0, 0.2, 0.4 fill the window; 0.9 and 0.99 are inside (0.x-1, 0.x];
    # 1.0 is the first instant 0.0 has left the half-open window (1.0 - 1.0 = 0.0 is not > 0.0).
    p = Tiered([SlidingLog(3, ns(1.0))])
    assert statuses(p, [0.0, 0.2, 0.4, 0.9, 0.99, 1.0, 1.1, 1.2, 1.4]) == [
        200,
        200,
        200,
        429,
        429,
        200,
        429,
        200,
        200,
    ]


def test_no_boundary_burst() -> None:
    # The fixed window's 2L-at-the-edge timeline: the sliding log lets only L through.
    times = [0.9, 0.95, 0.99, 1.0, 1.01, 1.05, 1.9, 1.95]
    assert statuses(SlidingLog(3, ns(1.0)), times) == [200, 200, 200, 429, 429, 429, 200, 200]
    assert peak_window_count(accepted(SlidingLog(3, ns(1.0)), times), 1.0) == 3


def test_rejections_do_not_consume_quota() -> None:
    p = Tiered([SlidingLog(1, ns(1.0))])
    assert statuses(p, [0.0, 0.5, 0.99, 1.0]) == [200, 429, 429, 200]


def test_earliest_and_decision_fields() -> None:
    p = Tiered([SlidingLog(2, ns(10.0))])
    p.decide(ns(1.0))
    d = p.decide(ns(3.0))
    assert (d.allowed, d.limit, d.remaining, d.reset_ns, d.reset_s) == (True, 2, 0, ns(8.0), 8.0)
    d = p.decide(ns(4.0))
    assert (d.allowed, d.retry_after_ns) == (False, ns(7.0))  # slot frees at 1.0 + 10.0
    assert p.earliest(ns(4.0)) == ns(11.0)


def test_reset_is_when_the_oldest_counted_request_leaves() -> None:
    p = SlidingLog(3, ns(10.0))
    assert statuses(p, [1.0, 2.0]) == [200, 200]
    assert (p.remaining(ns(4.0)), p.reset_after(ns(4.0))) == (1, ns(7.0))
    assert p.reset_after(ns(12.0)) == 0


def test_two_tiers_both_must_have_room() -> None:
    # 2 per 1 s and 3 per 10 s: the third request at 1.0 passes the short tier, the fourth fails the long one.
    p = Tiered([SlidingLog(2, ns(1.0)), SlidingLog(3, ns(10.0))])
    assert statuses(p, [0.0, 0.0, 0.5, 1.0, 2.0]) == [200, 200, 429, 200, 429]
    assert p.earliest(ns(2.0)) == ns(10.0)
    assert statuses(p, [10.0]) == [200]


def test_exactly_one_window_old_has_left_0_14_plus_1_0() -> None:
    # Issue 7: in floats 0.14 + 1.0 is 1.1400000000000001, so at 1.14 the entry from 0.14 was still
    # counted and a client paced exactly 1 per second got a 429. In ticks the sum is exact.
    assert 0.14 + 1.0 != 1.14
    p = Tiered([SlidingLog(1, ns(1.0))])
    assert statuses(p, [0.14, 1.14, 2.14]) == [200, 200, 200]
    assert p.earliest(ns(2.5)) == ns(3.14) == 3_140_000_000
    assert statuses(p, [3.14 - 1e-9, 3.14, 3.14]) == [429, 200, 429]  # one tick early; on time; full again
