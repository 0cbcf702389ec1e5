"""policy_rejected: the run's arrivals replayed through the scenario's own policy, hand-computed."""

from __future__ import annotations

from bench import compliance, metrics, report
from bench.compliance import judge, rejections
from bench.records import Attempt
from mock_server.config import ServerConfig
from mock_server.log import Arrival
from strategies.base import Tier

S = 1_000_000_000
#: Token bucket (GCRA) 10 per 1 s with a burst of 20: emission interval T = 0.1 s, tolerance 19·T = 1.9 s.
BUCKET = ServerConfig.from_dict({"quota": [{"algorithm": "token-bucket", "limit": 10, "window_s": 1.0,
                                            "burst": 20}]})


def legal_burst() -> list[Arrival]:
    """20 at 0 (the whole burst), then one every 0.1 s from 0.1 to 1.0 s (the sustained rate)."""
    return [Arrival(f"{i}", 0, 200) for i in range(20)] + [Arrival(f"s{k}", k * S // 10, 200) for k in range(1, 11)]


def test_a_legal_token_bucket_burst_is_compliant_though_its_sliding_window_ratio_is_over_1() -> None:
    arrivals = legal_burst()
    # By hand: after 20 at 0 the bucket's TAT is 2.0 s; the arrival at k·0.1 s is allowed iff
    # TAT − 1.9 ≤ k·0.1, i.e. 2.0 + (k−1)·0.1 − 1.9 = k·0.1 ≤ k·0.1: every one fits, exactly.
    assert rejections(arrivals, judge(BUCKET)) == 0
    # In sliding-window terms [0, 1 s) holds the 20 and 0.1 … 0.9 s: 29 against L = 10.
    assert metrics.peak_window_count_ns([a.t_ns for a in arrivals], S) == 29


def test_one_arrival_too_early_is_one_rejection() -> None:
    # At 0.05 s: TAT − 1.9 = 0.1 > 0.05, rejected and not counted, so the sustained ones still fit.
    assert rejections([*legal_burst(), Arrival("x", S // 20, 200)], judge(BUCKET)) == 1


def test_sliding_log_rejections_are_not_counted_by_the_policy() -> None:
    two = ServerConfig.from_dict({"quota": [{"limit": 2, "window_s": 1.0}]})
    # 0 and 0.5 fit; 0.9 is the third in [0, 1): rejected, not counted; at 1.0 s the entry at 0 has left.
    log = [Arrival("a", 0, 200), Arrival("b", S // 2, 200), Arrival("c", 9 * S // 10, 429), Arrival("d", S, 200)]
    assert rejections(log, judge(two)) == 1


def test_a_clock_aligned_fixed_window_is_judged_where_the_servers_clock_puts_it() -> None:
    fw = ServerConfig.from_dict({"quota": [{"algorithm": "fixed-window", "limit": 2, "window_s": 1.0}]})
    log = [Arrival(x, t, 200) for x, t in (("a", 0), ("b", S // 10), ("c", 2 * S // 10), ("d", 3 * S // 10))]
    # Run start at 0.7 s on the server's clock: a, b, c in the window [0, 1 s) (c rejected), d at 1.0 s in the next.
    assert rejections(log, judge(fw, 7 * S // 10), 7 * S // 10) == 1
    # Run start at 0: all four in one window, the last two rejected.
    assert rejections(log, judge(fw), 0) == 2


def test_per_key_quotas_and_malformed_requests() -> None:
    one = ServerConfig.from_dict({"quota": [{"limit": 1, "window_s": 1.0}]})
    log = [Arrival("a", 0, 200, key="k1"), Arrival("b", 0, 200, key="k2"), Arrival("c", 0, 400, key="k1")]
    assert rejections(log, judge(one)) == 0  # each key has its own counter; the 400 never reached a tier


def test_compute_reports_the_replay_and_the_report_ranks_the_legal_burst_compliant() -> None:
    arrivals = legal_burst()
    attempts = [Attempt(i, 1, 0.0, a.t_ns / S, a.t_ns / S, a.t_ns / S + 0.01, 200, a.t_ns)
                for i, a in enumerate(arrivals)]
    m = metrics.compute(attempts, arrivals, [Tier(10, 1.0)], requests=30, cpu_s=None, oracle_makespan_s=1.01,
                        judge=compliance.judge(BUCKET))
    assert (m.policy_rejected, m.throttled, m.burst_ratio) == (0, 0, 2.9)
    assert report.compliant({"status": "ok", **m.to_dict()})  # by the API's rule, not the sliding window
    # Without a judge the figure is withheld, and the stricter sliding-window rule is all that is left.
    plain = metrics.compute(attempts, arrivals, [Tier(10, 1.0)], requests=30, cpu_s=None, oracle_makespan_s=1.01)
    assert plain.policy_rejected is None and not report.compliant({"status": "ok", **plain.to_dict()})
