"""The runner's oracle (bench.metrics.oracle_makespan) driven by each algorithm, against hand-computed
makespans: the oracle sends each job at the earliest instant the policy accepts it. Timelines are
written in seconds and counted, like the server counts them, in integer ns."""

from __future__ import annotations

import pytest

from bench.metrics import oracle_makespan
from mock_server.config import QuotaConfig
from mock_server.policies import build
from mock_server.ticks import from_seconds, to_seconds


def makespan(q: list[QuotaConfig], releases: list[float], latency_s: float) -> float | None:
    ns = oracle_makespan([from_seconds(r) for r in releases], build(q), from_seconds(latency_s))
    return None if ns is None else to_seconds(ns)


def test_sliding_log() -> None:
    # 2 per 1 s, 5 jobs at 0: sent at 0, 0, 1, 1, 2; done 10 ms later.
    assert makespan([QuotaConfig(2, 1.0)], [0.0] * 5, 0.01) == 2.01
    # Staggered releases: 3 per 2 s; jobs at 0, 0.5, 0.5, 0.5, 3 -> sent 0, 0.5, 0.5, then 2.0 (when 0
    # leaves the window), then 3.0 (its release; only 0.5, 0.5, 2.0 are in (1, 3]).
    assert makespan([QuotaConfig(3, 2.0)], [0.0, 0.5, 0.5, 0.5, 3.0], 0.25) == 3.25


def test_fixed_window_clock_aligned() -> None:
    # 3 per 1 s windows; 7 jobs released at 0.5: 3 in [0, 1), 3 at 1.0, 1 at 2.0 -> 2.0 + 0.25 - 0.5.
    assert makespan([QuotaConfig(3, 1.0, "fixed-window")], [0.5] * 7, 0.25) == 1.75


def test_fixed_window_first_request_anchor() -> None:
    # Windows open at 0.5, 1.5, 2.5: the last of 7 jobs goes at 2.5 -> 2.5 + 0.25 - 0.5.
    assert makespan([QuotaConfig(3, 1.0, "fixed-window", anchor="first")], [0.5] * 7, 0.25) == 2.25


def test_gcra_burst() -> None:
    # 2 per second, burst 3: 6 jobs at 0 -> sent 0, 0, 0, 0.5, 1.0, 1.5.
    assert makespan([QuotaConfig(2, 1.0, "gcra", burst=3)], [0.0] * 6, 0.0) == 1.5
    # Idle time refills the bucket: 2 at 0, then 4 at 3 -> 3, 3, 3, 3.5.
    assert makespan([QuotaConfig(2, 1.0, "gcra", burst=3)], [0.0, 0.0, 3.0, 3.0, 3.0, 3.0], 0.5) == 4.0
    # burst 1: evenly spaced, 4 jobs -> 0, 0.5, 1.0, 1.5.
    assert makespan([QuotaConfig(2, 1.0, "gcra", burst=1)], [0.0] * 4, 0.0) == 1.5


def test_sliding_counter() -> None:
    # 4 per 1 s; 6 jobs at 0.25: 4 at once; the 5th when 4 * (1 - e) + 0 <= 3 (1.25), the 6th when
    # 4 * (1 - e) + 1 <= 3 (1.5) -> 1.5 - 0.25.
    assert makespan([QuotaConfig(4, 1.0, "sliding-counter")], [0.25] * 6, 0.0) == 1.25


def test_tiers_the_binding_one_decides() -> None:
    # 2 per 1 s and 3 per 10 s: 0, 0, 1, then the 10 s tier holds the 4th until 10.
    assert makespan([QuotaConfig(2, 1.0), QuotaConfig(3, 10.0)], [0.0] * 4, 0.0) == 10.0
    # A fixed window and a GCRA together: the fixpoint must satisfy both.
    q = [QuotaConfig(2, 1.0, "fixed-window"), QuotaConfig(4, 1.0, "gcra", burst=1)]
    # gcra spaces by 0.25, the window caps 2 per second: 0, 0.25 | 1.0, 1.25 | 2.0
    assert makespan(q, [0.0] * 5, 0.0) == 2.0


@pytest.mark.parametrize("algorithm", ["sliding-log", "fixed-window", "sliding-counter", "gcra"])
def test_oracle_never_sees_a_rejection(algorithm: str) -> None:
    p = build([QuotaConfig(7, 0.3, algorithm)])
    t = 0
    for i in range(200):
        t = p.earliest(max(i * 10_000_000, t))
        assert p.decide(t).allowed


def test_weighted_requests_and_tokens_by_hand() -> None:
    # 3 requests / 1 s and 10 tokens / 1 s (sliding logs); 6 jobs at 0 costing 4, 4, 4, 1, 2, 1 tokens;
    # latency 0.1 s + 0.01 s per token.
    #   job 0 (4) at 0: 4 tokens, 1 request;  job 1 (4) at 0: 8 tokens, 2 requests;
    #   job 2 (4): 12 > 10 tokens -> when the 4 at 0 leave: 1.0 (both at 0 leave then: 4 tokens, 1 request);
    #   job 3 (1) at 1.0: 5 tokens, 2 requests;  job 4 (2) at 1.0: 7 tokens, 3 requests;
    #   job 5 (1): tokens fit (8), requests full until the three at 1.0 leave: 2.0.
    # Responses end at 0.14, 0.14, 1.14, 1.11, 1.12, 2.11: makespan 2.11 s.
    q = [QuotaConfig(3, 1.0), QuotaConfig(10, 1.0, unit="tokens")]
    ns = oracle_makespan([0] * 6, build(q), from_seconds(0.1), [4, 4, 4, 1, 2, 1], from_seconds(0.01))
    assert ns == from_seconds(2.11)


def test_weighted_gcra_by_hand() -> None:
    # 10 tokens per second, bucket 10: cost 10 empties it at 0; cost 5 waits for 5 tokens (0.5 s).
    q = [QuotaConfig(10, 1.0, "gcra", unit="tokens")]
    assert oracle_makespan([0, 0], build(q), 0, [10, 5]) == from_seconds(0.5)
