"""Metrics of docs/metrics.md on small fixed inputs, each expected value computed by hand in a comment."""

from __future__ import annotations

import json
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.metrics import (
    ZERO_ORACLE_NOTE,
    Metrics,
    compute,
    efficiency_note,
    first_window_count,
    first_window_count_ns,
    oracle_makespan,
    peak_concurrency,
    peak_window_count,
    peak_window_count_ns,
    percentile,
)
from bench.records import TRANSPORT_ERROR, Attempt
from mock_server.log import Arrival
from mock_server.policies import SlidingLog, Tiered
from mock_server.ticks import NS_PER_S, from_seconds
from strategies.base import Tier

S = NS_PER_S


def att(job: int, attempt: int, intended: float, sent: float, done: float, status: int = 200) -> Attempt:
    return Attempt(job, attempt, intended, sent, sent + 0.001, done, status)


def arr(t: float, status: int = 200, in_flight: int = 1) -> Arrival:
    return Arrival(f"r{t}", from_seconds(t), status, in_flight=in_flight)


# --- percentile -------------------------------------------------------------------------------------


def test_percentile_by_hand() -> None:
    v = [40, 10, 30, 20]  # sorted: 10 20 30 40, n = 4, rank h = (n-1)·p/100 = 3p/100
    assert percentile(v, 50) == 25.0  # h = 1.5  → 20 + 0.5·(30−20) = 25
    assert percentile(v, 90) == pytest.approx(37.0)  # h = 2.7  → 30 + 0.7·10 = 37
    assert percentile(v, 99) == pytest.approx(39.7)  # h = 2.97 → 30 + 0.97·10 = 39.7
    assert percentile(v, 0) == 10.0  # h = 0 → min
    assert percentile(v, 100) == 40.0  # h = 3 → max
    assert percentile([5.0], 99) == 5.0  # one value: every percentile is it
    assert percentile([], 50) is None


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        percentile([1.0], -1)


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=50), st.integers(1, 99))
def test_percentile_matches_statistics_inclusive(values: list[float], p: int) -> None:
    # quantiles(n=100, inclusive)[p-1] is the p-th percentile by the same linear-interpolation rule.
    expected = statistics.quantiles(values, n=100, method="inclusive")[p - 1]
    assert percentile(values, p) == pytest.approx(expected, rel=1e-9, abs=1e-6)


# --- windows ----------------------------------------------------------------------------------------


def test_window_boundary_is_half_open() -> None:
    assert peak_window_count([0.0, 1.0], 1.0) == 1  # 1.0 is not in [0, 1); [1, 2) holds one too
    assert peak_window_count([0.0, 0.5, 0.999], 1.0) == 3  # all in [0, 1)
    assert first_window_count([0.0, 1.0], 1.0) == 1
    assert first_window_count([0.0, 0.5, 0.999], 1.0) == 3


def test_peak_window_starts_at_an_arrival() -> None:
    # times 0.0, 0.9, 1.0, 1.1, 1.85, 2.5; W = 1
    # window from 0.0: [0, 1)     → 0.0, 0.9           = 2
    # window from 0.9: [0.9, 1.9) → 0.9, 1.0, 1.1, 1.85 = 4  ← peak (starts exactly at an arrival)
    # window from 1.0: [1, 2)     → 1.0, 1.1, 1.85      = 3
    # first window = the one from 0.0 = 2
    times = [1.85, 0.0, 1.1, 0.9, 2.5, 1.0]  # unsorted on purpose
    assert peak_window_count(times, 1.0) == 4
    assert first_window_count(times, 1.0) == 2


def test_windows_with_duplicates_and_empty() -> None:
    assert peak_window_count([0.3, 0.3, 0.3], 0.001) == 3  # identical times share every window
    assert peak_window_count([], 1.0) == 0
    assert first_window_count([], 1.0) == 0


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        peak_window_count([0.0], 0.0)


times_st = st.lists(st.floats(0, 100, allow_nan=False), max_size=60)


@given(times_st, st.floats(0.001, 10))
def test_peak_bounds(times: list[float], w: float) -> None:
    peak = peak_window_count(times, w)
    assert first_window_count(times, w) <= peak <= len(times)
    if times:
        assert peak >= 1


@given(st.lists(st.integers(0, 100 * S), max_size=60), st.integers(1, 10 * S))
def test_peak_equals_brute_force(times: list[int], w: int) -> None:
    brute = max((sum(1 for a in times if s <= a < s + w) for s in times), default=0)
    assert peak_window_count_ns(times, w) == brute


@given(times_st, st.floats(0.001, 10))
def test_seconds_form_counts_the_same_ticks(times: list[float], w: float) -> None:
    ns = [from_seconds(t) for t in times]
    assert peak_window_count(times, w) == peak_window_count_ns(ns, from_seconds(w))
    assert first_window_count(times, w) == first_window_count_ns(ns, from_seconds(w))


def test_exactly_one_window_apart_is_two_windows_0_14_plus_1_0() -> None:
    # The float bug of issue 7: 0.14 + 1.0 == 1.1400000000000001 > 1.14, so a float comparison kept an
    # arrival exactly one window old in the window. In ticks the sum is exact and it has left.
    assert 0.14 + 1.0 > 1.14
    assert peak_window_count_ns([140_000_000, 1_140_000_000], S) == 1
    assert peak_window_count([0.14, 1.14], 1.0) == 1 and first_window_count([0.14, 1.14], 1.0) == 1
    # One tick less than a window apart: together.
    assert peak_window_count_ns([140_000_000, 1_139_999_999], S) == 2


@given(st.lists(st.integers(0, 20 * S), min_size=1, max_size=40), st.integers(1, 5),
       st.sampled_from([S // 10, 3 * S // 10, S, S // 3]))
def test_oracle_never_exceeds_the_limit(releases: list[int], limit: int, w: int) -> None:
    # The oracle's send times are accepted by a sliding log, so no [t, t+W) window holds more than L.
    sent: list[int] = []

    class Spy(SlidingLog):
        def record(self, now: int) -> None:
            sent.append(now)
            super().record(now)

    oracle_makespan(releases, Spy(limit, w), 0)
    assert len(sent) == len(releases)
    assert peak_window_count_ns(sent, w) <= limit


# --- concurrency and oracle -------------------------------------------------------------------------


def test_peak_concurrency() -> None:
    assert peak_concurrency([arr(0.0, in_flight=1), arr(0.1, in_flight=4), arr(0.2, in_flight=2)]) == 4
    assert peak_concurrency([]) == 0


def test_oracle_sliding_log_batch() -> None:
    # 5 jobs at t=0, limit 2 per 1 s: accepted at 0, 0, 1, 1, 2 → makespan 2.0 + latency 0.05 (exact ns)
    assert oracle_makespan([0] * 5, Tiered([SlidingLog(2, S)]), S // 20) == 2_050_000_000
    assert oracle_makespan([0] * 5, SlidingLog(2, S), 0) == 2 * S  # a bare policy works too


def test_oracle_staggered_releases() -> None:
    # limit 2 per 1 s; releases 0, 0, 0.2, 2.5, 2.6
    # job0 @0, job1 @0, job2 released 0.2 → full until 0+1 → @1.0,
    # job3 released 2.5 → window (1.5, 2.5] holds nothing → @2.5, job4 @2.6 (only 2.5 in window)
    # makespan = 2.6 + 0.1 = 2.7
    releases = [from_seconds(t) for t in (2.6, 0.0, 0.2, 0.0, 2.5)]
    assert oracle_makespan(releases, Tiered([SlidingLog(2, S)]), S // 10) == 2_700_000_000


def test_oracle_two_tiers() -> None:
    # tiers 3 per 1 s and 4 per 10 s; 6 jobs at 0
    # 3 per 1 s: @0, 0, 0, then 1.0; 4 per 10 s: the 5th must wait until 0 + 10 = 10, the 6th too (until 10)
    # sends: 0, 0, 0, 1, 10, 10 → makespan 10.0
    policy = Tiered([SlidingLog(3, S), SlidingLog(4, 10 * S)])
    assert oracle_makespan([0] * 6, policy, 0) == 10 * S


def test_oracle_no_jobs() -> None:
    assert oracle_makespan([], SlidingLog(1, S), S // 10) is None


def test_oracle_measures_from_first_release() -> None:
    # a stream released from 1.0: sends at 1.0, 2.0 (limit 1/s); makespan 2.0 + 0.5 − 1.0 = 1.5
    assert oracle_makespan([S, S], SlidingLog(1, S), S // 2) == 3 * S // 2


def test_oracle_paced_sends_exactly_one_window_apart() -> None:
    # 1 per 1 s from a release at 0.14 s: the oracle sends at 0.14, 1.14, 2.14 — not an ulp later.
    assert oracle_makespan([140_000_000] * 3, SlidingLog(1, S), 0) == 2 * S


# --- compute ----------------------------------------------------------------------------------------


def test_compute_empty_run() -> None:
    m = compute([], [], [Tier(10, 1.0)], requests=0, cpu_s=0.0, oracle_makespan_s=None)
    counts = (m.requests, m.attempts, m.succeeded, m.throttled, m.errors, m.peak_concurrency)
    assert counts == (0, 0, 0, 0, 0, 0)
    assert m.peak_window_count == (0,) and m.first_window_count == (0,)
    assert m.burst_ratio == 0.0  # 0 arrivals / limit 10
    for name in ("duration_s", "throughput_rps", "latency_p50_ms", "latency_max_ms", "queue_wait_p99_ms",
                 "service_p50_ms", "completion", "efficiency", "cpu_s_per_1k"):
        assert getattr(m, name) is None, name
    json.dumps(m.to_dict())


def test_compute_no_tiers() -> None:
    m = compute([att(0, 1, 0.0, 0.0, 0.1)], [arr(0.05)], [], requests=1, cpu_s=0.0, oracle_makespan_s=None)
    assert m.peak_window_count == () and m.first_window_count == ()
    assert m.burst_ratio is None  # no tier, no binding tier
    assert m.efficiency is None  # no oracle


def test_compute_by_hand() -> None:
    # Three jobs, batch released at 0. Limit tiers: 2 per 1 s, 3 per 10 s.
    # job 0: attempt 1 sent 0.0 → 429 at 0.02; attempt 2 sent 1.0 → 200 at 1.03
    # job 1: attempt 1 sent 0.0 → 200 at 0.04
    # job 2: attempt 1 sent 0.5 → 200 at 0.56
    attempts = [
        att(0, 1, 0.0, 0.0, 0.02, 429),
        att(1, 1, 0.0, 0.0, 0.04),
        att(2, 1, 0.0, 0.5, 0.56),
        att(0, 2, 0.0, 1.0, 1.03),
    ]
    # server arrivals at 0.01 (429), 0.01, 0.51, 1.01; in flight at most 2
    arrivals = [arr(0.01, 429, 1), arr(0.0101, 200, 2), arr(0.51), arr(1.01)]
    m = compute(attempts, arrivals, [Tier(2, 1.0), Tier(3, 10.0)], requests=3, cpu_s=0.012,
                oracle_makespan_s=0.55)
    assert (m.requests, m.attempts, m.succeeded, m.throttled, m.errors) == (3, 4, 3, 1, 0)
    # duration: first sent 0.0 → last done 1.03
    assert m.duration_s == pytest.approx(1.03)
    assert m.throughput_rps == pytest.approx(3 / 1.03)
    # latency per job (final done − intended): 1.03, 0.04, 0.56 → sorted 0.04 0.56 1.03 (n=3, h = 2p/100)
    assert m.latency_p50_ms == pytest.approx(560.0)  # h = 1 → 0.56
    assert m.latency_p90_ms == pytest.approx(1000 * (0.56 + 0.8 * 0.47))  # h = 1.8 → 0.936
    assert m.latency_p99_ms == pytest.approx(1000 * (0.56 + 0.98 * 0.47))  # h = 1.98 → 1.0206
    assert m.latency_max_ms == pytest.approx(1030.0)
    # queue wait per job (first sent − intended): 0.0, 0.0, 0.5 → p50 0.0; p99 h = 1.98 → 0 + 0.98·0.5
    assert m.queue_wait_p50_ms == pytest.approx(0.0)
    assert m.queue_wait_p99_ms == pytest.approx(490.0)
    # service per attempt: 0.02, 0.04, 0.06, 0.03 → sorted 0.02 0.03 0.04 0.06; p50 h=1.5 → 0.035
    assert m.service_p50_ms == pytest.approx(35.0)
    assert m.service_p99_ms == pytest.approx(1000 * (0.04 + 0.97 * 0.02))  # h = 2.97 → 0.0594
    # windows: W=1: [0.01, 1.01) holds 0.01, 0.0101, 0.51 = 3 (1.01 is excluded); W=10: all 4
    assert m.peak_window_count == (3, 4)
    assert m.first_window_count == (3, 4)
    # ratios 3/2 = 1.5 and 4/3 ≈ 1.33 → binding tier is the first → 1.5
    assert m.burst_ratio == 1.5
    assert m.completion == 1.0
    # actual makespan: last final done 1.03 − earliest intended 0.0
    assert m.efficiency == pytest.approx(0.55 / 1.03)
    assert m.peak_concurrency == 2
    assert m.cpu_s_per_1k == pytest.approx(3.0)  # 0.012 s · 1000 / 4 attempts


def test_retry_then_success_counts_once() -> None:
    # job 0: 429 then 200 → 1 succeeded, 2 attempts, 1 throttled, 0 errors; latency from intended 0 to 0.7
    attempts = [att(0, 2, 0.0, 0.6, 0.7), att(0, 1, 0.0, 0.0, 0.1, 429)]  # out of order on purpose
    m = compute(attempts, [], [], requests=1, cpu_s=0.0, oracle_makespan_s=0.1)
    assert (m.succeeded, m.attempts, m.throttled, m.errors) == (1, 2, 1, 0)
    assert m.latency_max_ms == pytest.approx(700.0)
    assert m.queue_wait_p50_ms == pytest.approx(0.0)  # from the FIRST attempt
    assert m.completion == 1.0
    assert m.efficiency == pytest.approx(0.1 / 0.7)


def test_success_then_failure_is_a_failed_job() -> None:
    # the final (highest-numbered) attempt decides, not "any 2xx"
    attempts = [att(0, 1, 0.0, 0.0, 0.1, 200), att(0, 2, 0.0, 0.2, 0.3, 503)]
    m = compute(attempts, [], [], requests=1, cpu_s=0.0, oracle_makespan_s=0.1)
    assert (m.succeeded, m.errors, m.completion, m.efficiency) == (0, 1, 0.0, None)


def test_transport_and_http_errors() -> None:
    # job 0: transport error (status 0) then 200; job 1: 500 (final); job 2: 429 (final) → never done
    attempts = [
        att(0, 1, 0.0, 0.0, 0.05, TRANSPORT_ERROR),
        att(0, 2, 0.0, 0.1, 0.2),
        att(1, 1, 0.0, 0.0, 0.1, 500),
        att(2, 1, 0.0, 0.0, 0.1, 429),
    ]
    m = compute(attempts, [], [], requests=3, cpu_s=0.0, oracle_makespan_s=0.1)
    # errors: status 0 and 500 = 2; throttled: the one 429; succeeded: only job 0
    assert (m.attempts, m.succeeded, m.throttled, m.errors) == (4, 1, 1, 2)
    assert m.completion == pytest.approx(1 / 3)
    assert m.efficiency is None  # a job failed: an incomplete run is not efficient
    # latency still covers every job (failed ones too): 0.2, 0.1, 0.1 → max 200 ms
    assert m.latency_max_ms == pytest.approx(200.0)


def test_unsent_job_blocks_efficiency() -> None:
    # 2 jobs in the workload, one never sent: completion 1/2, efficiency undefined
    m = compute([att(0, 1, 0.0, 0.0, 0.1)], [], [], requests=2, cpu_s=0.0, oracle_makespan_s=0.1)
    assert (m.succeeded, m.completion, m.efficiency) == (1, 0.5, None)


def test_throughput_none_for_zero_duration() -> None:
    # virtual time with no service latency: sent and done at the same instant → duration 0
    m = compute([att(0, 1, 0.0, 0.0, 0.0)], [], [], requests=1, cpu_s=0.0, oracle_makespan_s=0.0)
    assert m.duration_s == 0.0
    assert m.throughput_rps is None and m.efficiency is None


def test_efficiency_withheld_when_the_oracle_takes_no_time() -> None:
    # Every job fits the first window and there is no latency: the oracle's makespan is 0. A run that did
    # everything right but took 0.2 s would have printed efficiency 0 / 0.2 = 0.00; it is null, with the
    # reason, instead.
    attempts = [att(0, 1, 0.0, 0.0, 0.1), att(1, 1, 0.0, 0.1, 0.2)]
    m = compute(attempts, [], [], requests=2, cpu_s=0.0, oracle_makespan_s=0.0)
    assert (m.completion, m.efficiency) == (1.0, None)
    assert efficiency_note(m, 0.0) == ZERO_ORACLE_NOTE
    # With a positive oracle the same run has an efficiency (0.1 / 0.2) and nothing is withheld.
    m = compute(attempts, [], [], requests=2, cpu_s=0.0, oracle_makespan_s=0.1)
    assert m.efficiency == 0.5 and efficiency_note(m, 0.1) is None
    # An incomplete run has no efficiency anyway: nothing is "withheld" from it.
    m = compute(attempts[:1], [], [], requests=2, cpu_s=0.0, oracle_makespan_s=0.0)
    assert m.efficiency is None and efficiency_note(m, 0.0) is None


def test_arrival_windows_count_all_statuses() -> None:
    arrivals = [arr(0.0, 200), arr(0.1, 429), arr(0.2, 503)]
    m = compute([], arrivals, [Tier(2, 1.0)], requests=0, cpu_s=None, oracle_makespan_s=None)
    assert m.peak_window_count == (3,) and m.burst_ratio == 1.5


def test_to_dict_roundtrip_and_names() -> None:
    attempts = [att(0, 1, 0.0, 0.0, 0.1 + 0.2)]  # 0.30000000000000004: must survive JSON unrounded
    m = compute(attempts, [arr(0.05)], [Tier(1, 1.0)], requests=1, cpu_s=0.01, oracle_makespan_s=0.3)
    d = json.loads(json.dumps(m.to_dict()))
    assert list(d) == [
        "requests", "attempts", "succeeded", "throttled", "errors", "duration_s", "throughput_rps",
        "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_max_ms", "queue_wait_p50_ms",
        "queue_wait_p99_ms", "service_p50_ms", "service_p99_ms", "peak_window_count", "burst_ratio",
        "first_window_count", "completion", "efficiency", "peak_concurrency", "cpu_s_per_1k", "policy_rejected",
        "loop_lag_p50_ms", "loop_lag_p99_ms", "loop_lag_max_ms", "client_peak_window_count", "window_phase_s",
        "jobs_dropped", "jobs_cancelled", "neighbour_rejected",
    ]
    assert d["peak_window_count"] == [1]
    assert d["duration_s"] == 0.1 + 0.2
    assert Metrics.from_dict(d) == m


def test_bad_tier_limit() -> None:
    with pytest.raises(ValueError):
        compute([], [], [Tier(0, 1.0)], requests=0, cpu_s=None, oracle_makespan_s=None)


def test_window_edge_survives_float_rounding_of_relative_times() -> None:
    # On the server's absolute clock 17.704306 + 1.0 <= 18.704306: the sliding log saw the first arrival
    # leave the window before the second came. Made relative to a run start of 1.859684, the same sum
    # rounds the other way; the metric must still count two windows of one, not one window of two.
    t0, a, b = 1.859684, 17.704306, 18.704306
    assert a + 1.0 <= b and not (a - t0) + 1.0 <= b - t0
    assert peak_window_count([a - t0, b - t0], 1.0) == 1
    assert first_window_count([a - t0, b - t0], 1.0) == 1


def test_403_rejections_are_throttled_when_the_server_rejects_with_403() -> None:
    atts = [Attempt(0, 1, 0.0, 0.0, 0.0, 0.01, 403), Attempt(0, 2, 0.0, 1.0, 1.0, 1.01, 200),
            Attempt(1, 1, 0.0, 0.0, 0.0, 0.01, 403)]
    plain = compute(atts, [], [Tier(1, 1.0)], requests=2, cpu_s=None, oracle_makespan_s=None)
    github = compute(atts, [], [Tier(1, 1.0)], requests=2, cpu_s=None, oracle_makespan_s=None, rejected={429, 403})
    assert (plain.throttled, plain.errors) == (0, 2)
    assert (github.throttled, github.errors) == (2, 0)


def test_attempts_cut_off_by_the_run_timeout_are_not_errors() -> None:
    from bench.records import CANCELLED

    atts = [Attempt(0, 1, 0.0, 0.0, 0.0, 0.01, 200), Attempt(1, 1, 0.0, 0.0, None, 5.0, CANCELLED),
            Attempt(2, 1, 0.0, 0.0, None, 0.5, TRANSPORT_ERROR)]
    m = compute(atts, [], [], requests=3, cpu_s=None, oracle_makespan_s=None)
    assert (m.attempts, m.succeeded, m.throttled, m.errors) == (3, 1, 0, 1)


def test_an_incomplete_server_log_withholds_the_burst_metrics() -> None:
    atts = [Attempt(0, 1, 0.0, 0.0, 0.0, 0.01, 200)]
    m = compute(atts, None, [Tier(5, 1.0)], requests=1, cpu_s=None, oracle_makespan_s=None)
    assert (m.peak_window_count, m.first_window_count, m.burst_ratio, m.peak_concurrency) == ((), (), None, None)
    assert m.succeeded == 1  # the client-side counts stand


def test_token_tier_counts_costs_per_window() -> None:
    # A request tier of 3 / 1 s and a token tier of 10 / 1 s; arrivals at 0, 0.5, 0.9 s costing 4, 5, 3:
    # 3 requests (ratio 1.0) but 12 tokens in [0, 1) (ratio 1.2): the token tier is crossed.
    arrs = [Arrival("a", 0, 200, cost=4), Arrival("b", 500_000_000, 200, cost=5),
            Arrival("c", 900_000_000, 200, cost=3)]
    m = compute([], arrs, [Tier(3, 1.0), Tier(10, 1.0, "tokens")], requests=0, cpu_s=None, oracle_makespan_s=None)
    assert m.peak_window_count == (3, 12)
    assert m.first_window_count == (3, 12)
    assert m.burst_ratio == 1.2


# --- issue 11: loop lag, client-side window counts, start phase, dropped/cancelled jobs -----------------


def test_loop_lag_by_hand() -> None:
    from bench.metrics import loop_lag_ms

    # 5 samples sorted 0, 0, 1, 2, 40 ms: p50 is the middle one (1 ms); p99 rank 3.96: 2 + 0.96 * 38 = 38.48 ms.
    p50, p99, top = loop_lag_ms([0.002, 0.0, 0.040, 0.001, 0.0])
    assert p50 == pytest.approx(1.0) and p99 == pytest.approx(38.48) and top == pytest.approx(40.0)
    assert loop_lag_ms([]) == (None, None, None)


def test_client_side_peak_window_counts_send_times_beside_the_servers() -> None:
    from bench.metrics import client_peak_window_count

    # Sent at 0, 0.5, 0.999 and 1.0 (a retry of job 0); arrivals 5 ms later. In [0, 1): 3 sends;
    # [0.5, 1.5): 3. The server saw 0.005, 0.505, 1.004, 1.005: at most 3 as well, and a 0.5 s tier 2.
    atts = [att(0, 1, 0.0, 0.0, 0.01, 429), att(1, 1, 0.0, 0.5, 0.51), att(2, 1, 0.0, 0.999, 1.01),
            att(0, 2, 0.0, 1.0, 1.01)]
    assert client_peak_window_count(atts, [Tier(3, 1.0), Tier(2, 0.5)]) == (3, 2)
    # A token tier weighs each send by its job's cost: jobs 0, 1, 2 cost 5, 1, 2; [0.5, 1.5) holds 1 + 2 + 5.
    assert client_peak_window_count(atts, [Tier(10, 1.0, "tokens")], job_costs=[5, 1, 2]) == (8,)
    m = compute(atts, [arr(0.005), arr(0.505), arr(1.004), arr(1.005)], [Tier(3, 1.0)], requests=3,
                cpu_s=None, oracle_makespan_s=None)
    assert m.client_peak_window_count == (3,) and m.peak_window_count == (3,)


def test_window_phase_by_hand() -> None:
    from bench.metrics import window_phase_s

    # Run start at 125.75 s on the server's clock: 0.75 s into a 1 s window, 5.75 s into a minute.
    assert window_phase_s(125_750_000_000, [Tier(10, 1.0), Tier(100, 60.0)]) == (0.75, 5.75)
    m = compute([], [], [Tier(10, 2.0)], requests=0, cpu_s=None, oracle_makespan_s=None, start_ns=3_500_000_000)
    assert m.window_phase_s == (1.5,)


def test_cancelled_jobs_leave_completions_denominator_dropped_ones_do_not() -> None:
    done = [att(i, 1, 0.0, 0.0, 0.01) for i in range(2)]
    # 3 jobs, 1 cancelled by design, 2 done: every job the scenario wanted is done.
    m = compute(done, [arr(0.005)] * 2, [Tier(3, 1.0)], requests=3, cpu_s=None, oracle_makespan_s=0.01,
                jobs_cancelled=1)
    assert m.completion == 1.0
    # The same with the third job dropped at its deadline instead: the strategy's failure, 2 / 3.
    m = compute(done, [arr(0.005)] * 2, [Tier(3, 1.0)], requests=3, cpu_s=None, oracle_makespan_s=0.01,
                jobs_dropped=1)
    assert m.completion == 2 / 3
    # Every job cancelled: nothing to judge.
    assert compute([], [], [Tier(3, 1.0)], requests=2, cpu_s=None, oracle_makespan_s=None,
                   jobs_cancelled=2).completion is None


def test_dropped_and_cancelled_jobs_pass_through_and_old_results_load() -> None:
    m = compute([att(0, 1, 0.0, 0.0, 0.01)], [arr(0.005)], [Tier(3, 1.0)], requests=3, cpu_s=None,
                oracle_makespan_s=0.01, jobs_dropped=1, jobs_cancelled=1)
    # 3 jobs, 1 cancelled by the scenario, 1 dropped at its deadline, 1 done: 1 / (3 - 1).
    assert (m.jobs_dropped, m.jobs_cancelled, m.completion, m.efficiency) == (1, 1, 1 / 2, None)
    old = {k: v for k, v in m.to_dict().items()
           if k not in ("loop_lag_p50_ms", "loop_lag_p99_ms", "loop_lag_max_ms", "client_peak_window_count",
                        "window_phase_s", "jobs_dropped", "jobs_cancelled")}
    back = Metrics.from_dict(old)
    assert back.jobs_dropped == 0 and back.client_peak_window_count == () and back.loop_lag_max_ms is None
