"""The runner end to end, in-process under virtual time: exact, deterministic, fast."""

from __future__ import annotations

from typing import Any

from bench import clock, scenarios
from bench.metrics import ZERO_ORACLE_NOTE
from bench.runner import RunResult, oracle_makespan, run_one
from bench.transport import AsgiServer
from mock_server.ticks import NS_PER_S as S
from strategies.registry import resolve


def small(limit: int = 5, jobs: int = 20, latency_ms: float = 10, **extra: Any) -> scenarios.Scenario:
    data = {
        "server": {"latency_ms": latency_ms, "quota": [{"algorithm": "sliding-log", "limit": limit, "window_s": 1.0}]},
        "workload": {"jobs": jobs},
        "client": {"concurrency": 5, "timeout_s": 60},
        **extra,
    }
    return scenarios.from_dict(data, "small")


def run(strategy: str, scenario: scenarios.Scenario) -> RunResult:
    return clock.run(run_one(resolve(strategy), scenario, AsgiServer()))


def test_every_attempt_is_joined_to_its_server_arrival() -> None:
    r = run("unlimited", small())
    assert r.status == "ok"
    assert len(r.attempts) == len(r.arrivals) == 20
    # Virtual time: the request reaches the in-process server at the instant it is sent.
    assert all(a.arrival_s == a.sent_s == 0.0 for a in r.attempts)
    assert all(a.done_s == 0.01 for a in r.attempts)  # 10 ms server latency
    assert r.metrics.throttled == 15 and r.metrics.succeeded == 5


def test_corrected_bucket_is_exactly_at_the_limit() -> None:
    # 5 per 1 s, capacity 1: sends at 0, 0.2, 0.4, ... 3.8; every [t, t+1) window holds exactly 5.
    r = run("token-bucket", small())
    m = r.metrics
    assert (m.succeeded, m.throttled, m.errors) == (20, 0, 0)
    assert m.peak_window_count == (5,) and m.first_window_count == (5,) and m.burst_ratio == 1.0
    assert [round(a.sent_s, 6) for a in r.attempts] == [round(0.2 * i, 6) for i in range(20)]
    # Oracle: 5 at t=0, 1, 2, 3 → last accepted at 3.0, done at 3.01. Actual: last send 3.8, done 3.81.
    assert oracle_makespan(small()) == 3.01
    assert m.efficiency is not None and abs(m.efficiency - 3.01 / 3.81) < 1e-9


def test_aiolimiter_first_window_burst_is_2L_minus_1() -> None:
    # AsyncLimiter(5, 1): 5 at t=0, then one every 0.2 s: 0.2, 0.4, 0.6, 0.8 → 9 = 2L − 1 in [0, 1).
    r = run("aiolimiter", small())
    assert r.metrics.first_window_count == (9,)
    assert r.metrics.throttled > 0


def test_naive_bucket_below_one_per_second_is_reported_as_timeout() -> None:
    sc = small(limit=1, jobs=3, client={"concurrency": 1, "timeout_s": 5})
    sc = scenarios.from_dict({**sc.source, "server": {"quota": [{"limit": 1, "window_s": 2.0}]}}, "slow")
    r = run("token-bucket-naive", sc)
    assert r.status == "timeout" and "5 s" in (r.error or "")
    assert r.metrics.attempts == 0 and r.metrics.completion == 0.0


def test_a_crashing_strategy_is_a_finding_not_a_crash() -> None:
    from strategies.base import Jobs, Send, Strategy

    class Broken(Strategy):
        name = "broken"

        async def run(self, jobs: Jobs, send: Send) -> None:
            async for job in jobs:
                await send(job)
                raise RuntimeError("boom")

    r = clock.run(run_one(Broken, small(), AsgiServer()))
    assert r.status == "failed" and "RuntimeError: boom" in (r.error or "")
    assert r.metrics.attempts == 1


def test_open_loop_release_stamps_intended_at_the_schedule() -> None:
    data = {"server": {"latency_ms": 1}, "workload": {"jobs": 5, "release": "rate", "rate": 10},
            "client": {"concurrency": 5}}
    r = run("unlimited", scenarios.from_dict(data, "paced"))
    assert [a.intended_s for a in r.attempts] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert [round(a.sent_s, 6) for a in r.attempts] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert r.metrics.queue_wait_p99_ms is not None and r.metrics.queue_wait_p99_ms < 0.01
    assert r.metrics.burst_ratio is None  # no quota: nothing to be over


def test_a_truncated_server_log_is_reported_not_trusted() -> None:
    # The server keeps only the last 5 arrivals: a peak computed from them would understate the burst.
    sc = scenarios.from_dict({**small().source, "server": {"latency_ms": 10, "log": {"limit": 5},
                                                           "quota": [{"limit": 5, "window_s": 1.0}]}}, "small")
    r = run("unlimited", sc)
    assert r.status == "ok" and "15 arrivals dropped" in (r.error or "")
    assert r.metrics.burst_ratio is None and r.metrics.peak_window_count == ()
    assert (r.metrics.succeeded, r.metrics.throttled) == (5, 15)


def test_a_strategy_that_cannot_be_configured_is_a_finding() -> None:
    from strategies.base import Jobs, Quota, Send, Strategy

    class Picky(Strategy):
        name = "picky"

        def __init__(self, quota: Quota) -> None:
            raise ValueError("needs a quota of at least 100/s")

        async def run(self, jobs: Jobs, send: Send) -> None:  # pragma: no cover - never constructed
            pass

    r = clock.run(run_one(Picky, small(), AsgiServer()))
    assert r.status == "failed" and "needs a quota" in (r.error or "")
    assert r.metrics.attempts == 0


def test_oracle_places_clock_aligned_windows_on_the_server_clock() -> None:
    # Fixed windows of 1 s aligned to floor(now): 4 jobs, limit 2. From server time 10.0 the oracle
    # sends 2 at 10.0 and 2 at 11.0 (makespan 1.0); from 10.75 it sends 2 at 10.75 and 2 at 11.0 (0.25).
    sc = scenarios.from_dict({"server": {"quota": [{"algorithm": "fixed-window", "limit": 2, "window_s": 1.0}]},
                              "workload": {"jobs": 4}}, "fw")
    assert oracle_makespan(sc, 10 * S) == 1.0
    assert oracle_makespan(sc, 10_750_000_000) == 0.25


def test_efficiency_is_withheld_with_its_reason_when_the_oracle_takes_no_time() -> None:
    # 5 jobs, 20 per second, no latency: the oracle sends all 5 at t=0 and is done at 0. The paced
    # bucket takes 0.2 s for them and did everything right: no 0.00, but null, and the run says why.
    sc = small(limit=20, jobs=5, latency_ms=0)
    assert oracle_makespan(sc) == 0.0
    r = run("token-bucket", sc)
    assert r.status == "ok" and r.metrics.completion == 1.0 and r.metrics.throttled == 0
    assert r.metrics.efficiency is None
    assert r.error == ZERO_ORACLE_NOTE


def test_arrival_times_are_kept_in_exact_ticks() -> None:
    # The server logs integer ns; the runner makes them relative to run start in ns and joins them.
    r = run("token-bucket", small())
    assert [a.t_ns for a in r.arrivals] == [200_000_000 * i for i in range(20)]
    assert all(a.arrival_ns is not None and a.arrival_s == a.arrival_ns / S for a in r.attempts)
    assert sorted(a.arrival_ns or 0 for a in r.attempts) == [a.t_ns for a in r.arrivals]


def test_no_oracle_when_the_quota_changes_during_the_run() -> None:
    sc = scenarios.from_dict({"server": {"quota": [{"limit": 2, "window_s": 1.0}],
                                         "dynamics": {"schedule": [{"at_s": 1.0, "limit": 1}]}},
                              "workload": {"jobs": 4}}, "dyn")
    assert oracle_makespan(sc) is None


def test_a_hanging_response_times_out_in_virtual_mode_as_over_http() -> None:
    # Over HTTP the client's 10 s read timeout ends a hung request; in-process it must end the same way.
    sc = scenarios.from_dict({"server": {"faults": {"hang_rate": 1.0, "hang_s": 300}},
                              "workload": {"jobs": 1}, "client": {"timeout_s": 60}}, "hang")
    r = run("unlimited", sc)
    (a,) = r.attempts
    assert a.status == 0 and a.done_s == 10.0  # TRANSPORT_ERROR after exactly the read timeout
    assert r.metrics.errors == 1


def _neighbour_scenario(jobs: int) -> scenarios.Scenario:
    # Sliding log 2 per 1 s; the neighbour sends at 0.5 s (then 1.5 s, …); each response takes 1 s.
    return small(limit=2, jobs=jobs, latency_ms=1000,
                 **{"server": {"latency_ms": 1000,
                               "quota": [{"algorithm": "sliding-log", "limit": 2, "window_s": 1.0}],
                               "dynamics": {"neighbour": {"rate": 1, "start_s": 0.5}}}})


def test_the_neighbours_rejections_during_the_run_are_counted() -> None:
    """By hand: 2 jobs at 0 fill the window [0, 1); the neighbour's request at 0.5 s is rejected; the run ends
    when the responses return at 1.0 s, before the neighbour's next one (1.5 s): 1. With 1 job, the 0.5 s
    request fits (1 + 1 ≤ 2): 0. Without a neighbour: None (not applicable)."""
    from bench.report import compliant

    starving = run("unlimited", _neighbour_scenario(2))
    assert starving.metrics.throttled == 0 and starving.metrics.policy_rejected == 0
    assert starving.metrics.neighbour_rejected == 1
    assert not compliant({"status": starving.status, **starving.metrics.to_dict()})
    sharing = run("unlimited", _neighbour_scenario(1))
    assert sharing.metrics.neighbour_rejected == 0
    assert compliant({"status": sharing.status, **sharing.metrics.to_dict()})
    assert run("unlimited", small(jobs=2)).metrics.neighbour_rejected is None
