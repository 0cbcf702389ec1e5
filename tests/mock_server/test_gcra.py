from bench.metrics import peak_window_count
from mock_server.policies import GCRA
from tests.mock_server.timeline import accepted, statuses


def test_burst_then_sustained_rate_exact_sequence() -> None:
    # 2 per second (one every 0.5 s) with a burst of 3: three at once from idle, then one per 0.5 s;
    # after enough idle time (tat 2.5 <= now 2.5) the full burst of 3 is back.
    times = [0.0, 0.0, 0.0, 0.0, 0.4, 0.5, 0.5, 1.0, 2.5, 2.5, 2.5, 2.5]
    assert statuses(GCRA(2, 1.0, burst=3), times) == [
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
    assert statuses(GCRA(2, 1.0, burst=1), [0.0, 0.0, 0.25, 0.5, 0.75, 1.0]) == [200, 429, 429, 200, 429, 200]


def test_default_burst_is_the_limit_like_a_full_token_bucket() -> None:
    # 4 per second, bucket of 4: 4 at once, then a token every 0.25 s. A window of 1 s can see 4 + 3.
    times = [0.0] * 5 + [0.25, 0.25, 0.5, 0.75, 0.75]
    assert statuses(GCRA(4, 1.0), times) == [200, 200, 200, 200, 429, 200, 429, 200, 200, 429]
    assert peak_window_count(accepted(GCRA(4, 1.0), times), 1.0) == 7


def test_earliest_remaining_reset() -> None:
    p = GCRA(2, 1.0, burst=3)
    for _ in range(3):
        p.record(0.0)  # tat = 1.5, tau = 1.0
    assert (p.earliest(0.2), p.remaining(0.2), p.reset_after(0.2)) == (0.5, 0, 0.3)
    assert (p.remaining(1.0), p.reset_after(1.0)) == (2, 0.5)  # 2 slots; the 3rd (full) at 1.5
    assert (p.remaining(1.5), p.reset_after(1.5)) == (3, 0.0)


def test_set_limit_changes_the_rate_keeps_the_debt() -> None:
    p = GCRA(2, 1.0, burst=1)
    assert statuses(p, [0.0, 0.5]) == [200, 200]  # tat = 1.0
    p.set_limit(4)  # interval 0.25 from now on
    assert statuses(p, [0.9, 1.0, 1.1, 1.25]) == [429, 200, 429, 200]
