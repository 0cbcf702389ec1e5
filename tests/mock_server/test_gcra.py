from bench.metrics import peak_window_count
from mock_server.policies import GCRA
from mock_server.ticks import from_seconds as ns
from tests.mock_server.timeline import accepted, statuses


def test_burst_then_sustained_rate_exact_sequence() -> None:
    # 2 per second (one every 0.5 s) with a burst of 3: three at once from idle, then one per 0.5 s;
    # after enough idle time (tat 2.5 <= now 2.5) the full burst of 3 is back.
    times = [0.0, 0.0, 0.0, 0.0, 0.4, 0.5, 0.5, 1.0, 2.5, 2.5, 2.5, 2.5]
    assert statuses(GCRA(2, ns(1.0), burst=3), times) == [
        200,
        200,
        200,
        429,
        429,
        200,
        429,
        200,
        200,
        200,
        200,
        429,
    ]


def test_burst_1_is_perfectly_smooth() -> None:
    assert statuses(GCRA(2, ns(1.0), burst=1), [0.0, 0.0, 0.25, 0.5, 0.75, 1.0]) == [200, 429, 429, 200, 429, 200]


def test_default_burst_is_the_limit_like_a_full_token_bucket() -> None:
    # 4 per second, bucket of 4: 4 at once, then a token every 0.25 s. A window of 1 s can see 4 + 3.
    times = [0.0] * 5 + [0.25, 0.25, 0.5, 0.75, 0.75]
    assert statuses(GCRA(4, ns(1.0)), times) == [200, 200, 200, 200, 429, 200, 429, 200, 200, 429]
    assert peak_window_count(accepted(GCRA(4, ns(1.0)), times), 1.0) == 7


def test_earliest_remaining_reset() -> None:
    p = GCRA(2, ns(1.0), burst=3)
    for _ in range(3):
        p.record(0)  # tat = 1.5, tau = 1.0
    assert (p.earliest(ns(0.2)), p.remaining(ns(0.2)), p.reset_after(ns(0.2))) == (ns(0.5), 0, ns(0.3))
    assert (p.remaining(ns(1.0)), p.reset_after(ns(1.0))) == (2, ns(0.5))  # 2 slots; the 3rd (full) at 1.5
    assert (p.remaining(ns(1.5)), p.reset_after(ns(1.5))) == (3, 0)


def test_an_interval_that_is_not_a_whole_number_of_ticks() -> None:
    # 3 per second: T = 333333333.33 ns, kept exactly (tat in units of 1/3 ns). With burst 1 there is no
    # tolerance: the 2nd request is due at ceil(T) = 333333334 ns, one tick earlier is too early, and a
    # request that late by 2/3 ns moves the schedule by that much (tat = now + T), so the 3rd is due at
    # ceil(333333334 + T) = 666666668, not at ceil(2T) = 666666667.
    p = GCRA(3, ns(1.0), burst=1)
    times = [0.0, 0.333333333, 0.333333334, 0.666666667, 0.666666668]
    assert statuses(p, times) == [200, 429, 200, 429, 200]
    assert p.earliest(ns(0.7)) == 1_000_000_002
