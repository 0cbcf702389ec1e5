"""Properties every algorithm must have, on random timelines (hypothesis), in integer ticks (ns)."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.metrics import peak_window_count_ns
from mock_server.config import QuotaConfig
from mock_server.policies import Tiered, build, build_one
from mock_server.ticks import NS_PER_S as S

QUOTAS = [
    QuotaConfig(3, 1.0, "sliding-log"),
    QuotaConfig(3, 0.1, "sliding-log"),
    QuotaConfig(3, 1.0, "fixed-window"),
    QuotaConfig(2, 0.3, "fixed-window"),
    QuotaConfig(3, 1.0, "fixed-window", anchor="first"),
    QuotaConfig(2, 0.3, "fixed-window", anchor="first"),
    QuotaConfig(4, 1.0, "sliding-counter"),
    QuotaConfig(3, 0.1, "sliding-counter"),
    QuotaConfig(5, 1.0, "gcra", burst=2),
    QuotaConfig(3, 0.7, "token-bucket"),
]

# Mostly arbitrary nanoseconds, plus instants on a coarse grid so that exact window edges come up often.
instants = st.one_of(st.integers(0, 5 * S), st.integers(0, 50).map(lambda k: k * S // 10))
timelines = st.lists(instants, min_size=1, max_size=40).map(sorted)


@settings(max_examples=60, deadline=None)
@given(timelines)
def test_earliest_is_the_first_accepted_instant_and_pure(times: list[int]) -> None:
    for q in QUOTAS:
        p = Tiered([build_one(q)])
        for t in times:
            e = p.earliest(t)
            assert e >= t
            # Pure: asking about the future (as the oracle does) changes nothing.
            before = copy.deepcopy(p)
            p.earliest(t + 370_000_000)
            p.earliest(e)
            assert before.decide(t) == copy.deepcopy(p).decide(t)
            # The promised instant is accepted; one tick earlier is not (exact, no slack).
            assert copy.deepcopy(p).decide(e).allowed, (q, t, e)
            if e > t:
                assert not copy.deepcopy(p).decide(e - 1).allowed, (q, t, e)
            d = p.decide(t)
            assert d.allowed == (e == t)
            assert d.remaining >= 0 and d.reset_ns >= 0
            assert d.retry_after_ns == e - t


@settings(max_examples=60, deadline=None)
@given(timelines)
def test_exact_algorithms_never_exceed_their_window(times: list[int]) -> None:
    p = build([QuotaConfig(3, 1.0, "sliding-log")])
    assert peak_window_count_ns([t for t in times if p.decide(t).allowed], S) <= 3
    f = build([QuotaConfig(3, 1.0, "fixed-window")])
    ok = [t for t in times if f.decide(t).allowed]
    assert all(sum(1 for u in ok if u // S == k) <= 3 for k in {u // S for u in ok})
    # GCRA: in any span d, at most burst + d / interval, i.e. (n - burst) * interval <= d, exactly.
    g = build([QuotaConfig(5, 1.0, "gcra", burst=2)])
    ok = [t for t in times if g.decide(t).allowed]
    for i in range(len(ok)):
        for j in range(i, len(ok)):
            assert (j - i + 1 - 2) * S <= (ok[j] - ok[i]) * 5


@settings(max_examples=60, deadline=None)
@given(timelines, st.sampled_from(QUOTAS))
def test_remaining_counts_back_to_back_acceptances(times: list[int], q: QuotaConfig) -> None:
    p = Tiered([build_one(q)])
    for t in times:
        p.decide(t)
    now = times[-1]
    r = p.tiers[0].remaining(now)
    trial = copy.deepcopy(p)
    assert [trial.decide(now).allowed for _ in range(r + 1)] == [True] * r + [False]


# -- weighted (unit = "tokens", issue 13): the same promises for a request of cost n ---------------------

TOKEN_QUOTAS = [
    QuotaConfig(10, 1.0, "sliding-log", unit="tokens"),
    QuotaConfig(10, 1.0, "fixed-window", unit="tokens"),
    QuotaConfig(7, 0.3, "fixed-window", anchor="first", unit="tokens"),
    QuotaConfig(10, 1.0, "sliding-counter", unit="tokens"),
    QuotaConfig(10, 1.0, "gcra", burst=6, unit="tokens"),
]
weighted = st.lists(st.tuples(instants, st.integers(0, 6)), min_size=1, max_size=30).map(sorted)


@settings(max_examples=60, deadline=None)
@given(weighted)
def test_weighted_earliest_is_the_first_accepted_instant(jobs: list[tuple[int, int]]) -> None:
    for q in TOKEN_QUOTAS:
        p = Tiered([build_one(q)])
        for t, cost in jobs:
            e = p.earliest(t, cost)
            assert e >= t
            assert copy.deepcopy(p).decide(e, cost).allowed, (q, t, cost, e)
            if e > t:
                assert not copy.deepcopy(p).decide(e - 1, cost).allowed, (q, t, cost, e)
            d = p.decide(t, cost)
            assert d.allowed == (e == t) and d.retry_after_ns == e - t and 0 <= d.remaining <= q.limit


@settings(max_examples=60, deadline=None)
@given(weighted)
def test_weighted_sliding_log_never_exceeds_its_tokens(jobs: list[tuple[int, int]]) -> None:
    p = build([QuotaConfig(10, 1.0, "sliding-log", unit="tokens")])
    ok = [(t, c) for t, c in jobs if p.decide(t, c).allowed]
    assert peak_window_count_ns([t for t, _ in ok], S, [c for _, c in ok]) <= 10
