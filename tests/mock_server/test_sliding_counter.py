from bench.metrics import peak_window_count
from mock_server.policies import SlidingCounter
from mock_server.ticks import from_seconds as ns
from tests.mock_server.timeline import accepted, statuses


def test_exact_sequence_weighted_previous_bucket() -> None:
    # limit 4 per 1 s. Bucket [0, 1) takes 4. In bucket [1, 2) the estimate is 4 * (1 - e) + curr:
    #   1.0:  4.0 + 0  -> full          1.25: 3.0 + 0 -> ok (curr 1)   1.3: 2.8 + 1 = 3.8 -> full
    #   1.5:  2.0 + 1  -> ok (curr 2)   1.75: 1.0 + 2 -> ok (curr 3)   1.8: 0.8 + 3 = 3.8 -> full
    # In bucket [2, 3) the previous bucket holds 3: 2.0: 3.0 + 0 -> ok, then 3.0 + 1 -> full.
    times = [0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 1.25, 1.3, 1.5, 1.75, 1.8, 2.0, 2.0]
    assert statuses(SlidingCounter(4, ns(1.0)), times) == [
        200,
        200,
        200,
        200,
        429,
        429,
        200,
        429,
        200,
        200,
        429,
        200,
        429,
    ]


def test_earliest_is_where_the_weight_has_faded_enough() -> None:
    p = SlidingCounter(4, ns(1.0))
    for t in (0.1, 0.2, 0.3, 0.4):
        p.record(ns(t))
    assert p.earliest(ns(0.5)) == ns(1.25)  # 4 * (1 - e) + 1 <= 4  <=>  e >= 0.25
    assert (p.remaining(ns(1.5)), p.reset_after(ns(1.5))) == (2, ns(0.25))  # 3rd slot: 4 * (1 - e) <= 1
    assert p.remaining(ns(2.0)) == 4 and p.reset_after(ns(2.0)) == 0


def test_approximation_can_exceed_the_limit_in_a_sliding_window() -> None:
    # Two requests late in bucket 0 are assumed spread over it: at 1.5 the estimate is 2 * 0.5 = 1, so a
    # third is let in, and the sliding window [0.9, 1.9) holds 3 > limit 2. The sliding log would not.
    times = [0.9, 0.95, 1.5, 1.5]
    assert statuses(SlidingCounter(2, ns(1.0)), times) == [200, 200, 200, 429]
    assert peak_window_count(accepted(SlidingCounter(2, ns(1.0)), times), 1.0) == 3


def test_a_skipped_bucket_forgets_everything() -> None:
    p = SlidingCounter(2, ns(1.0))
    assert statuses(p, [0.5, 0.6, 0.7, 2.0, 2.0, 2.0]) == [200, 200, 429, 200, 200, 429]
