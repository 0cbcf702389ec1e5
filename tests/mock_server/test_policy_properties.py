"""Properties every algorithm must have, on random timelines (hypothesis)."""

from __future__ import annotations

import copy
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.metrics import peak_window_count
from mock_server.config import QuotaConfig
from mock_server.policies import Tiered, build, build_one

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

timelines = st.lists(st.floats(0.0, 5.0, allow_nan=False), min_size=1, max_size=40).map(sorted)


@settings(max_examples=60, deadline=None)
@given(timelines)
def test_earliest_is_the_first_accepted_instant_and_pure(times: list[float]) -> None:
    for q in QUOTAS:
        p = Tiered([build_one(q)])
        for t in times:
            e = p.earliest(t)
            assert e >= t
            # Pure: asking about the future (as the oracle does) changes nothing.
            before = copy.deepcopy(p)
            p.earliest(t + 0.37)
            p.earliest(e)
            assert before.decide(t) == copy.deepcopy(p).decide(t)
            # The promised instant is accepted; a clearly earlier one is not.
            assert copy.deepcopy(p).decide(e).allowed, (q, t, e)
            if e > t + 1e-9:
                assert not copy.deepcopy(p).decide((t + e) / 2).allowed, (q, t, e)
            d = p.decide(t)
            assert d.allowed == (e == t)
            assert d.remaining >= 0 and d.reset_s >= 0
            assert d.allowed or math.isclose(d.retry_after_s, e - t, abs_tol=1e-12)


@settings(max_examples=60, deadline=None)
@given(timelines)
def test_exact_algorithms_never_exceed_their_window(times: list[float]) -> None:
    p = build([QuotaConfig(3, 1.0, "sliding-log")])
    assert peak_window_count([t for t in times if p.decide(t).allowed], 1.0) <= 3
    f = build([QuotaConfig(3, 1.0, "fixed-window")])
    ok = [t for t in times if f.decide(t).allowed]
    assert all(sum(1 for u in ok if math.floor(u) == k) <= 3 for k in {math.floor(u) for u in ok})
    # GCRA: in any span d, at most burst + d / interval.
    g = build([QuotaConfig(5, 1.0, "gcra", burst=2)])
    ok = [t for t in times if g.decide(t).allowed]
    for i in range(len(ok)):
        for j in range(i, len(ok)):
            assert j - i + 1 <= 2 + (ok[j] - ok[i]) / 0.2 + 1e-6


@settings(max_examples=60, deadline=None)
@given(timelines, st.sampled_from(QUOTAS))
def test_remaining_counts_back_to_back_acceptances(times: list[float], q: QuotaConfig) -> None:
    p = Tiered([build_one(q)])
    for t in times:
        p.decide(t)
    now = times[-1]
    r = p.tiers[0].remaining(now)
    trial = copy.deepcopy(p)
    assert [trial.decide(now).allowed for _ in range(r + 1)] == [True] * r + [False]
