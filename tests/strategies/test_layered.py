"""layered: pool limits → semaphore → token bucket at r → header pacing → retries → purgatory breaker."""

from __future__ import annotations

import httpx
import pytest

from strategies.adaptive_headers import AdaptiveHeaders
from strategies.layered import Layered
from strategies.registry import resolve
from strategies.retry_backoff import RetryBackoff
from strategies.retry_policy import RetryPolicy
from strategies.token_bucket import CorrectedTokenBucket
from tests.strategies.fake_api import FakeApi, drive, end_to_end, quota, rate_limited


def test_registered_with_pool_limits_from_the_declared_concurrency() -> None:
    assert resolve("layered") is Layered
    s = Layered(quota(10, concurrency=7))
    assert s.client_limits == httpx.Limits(max_connections=7, max_keepalive_connections=7)


def test_the_semaphore_caps_in_flight_and_the_bucket_spaces_sends() -> None:
    api = FakeApi(lambda job, n, t: httpx.Response(200), latency_s=1.0)
    drive(Layered(quota(100, concurrency=3)), api, 6)
    # 3 in flight, 10 ms apart (100/s); the 4th waits for the first to finish at 1.0 s
    assert api.times() == pytest.approx([0.0, 0.01, 0.02, 1.0, 1.01, 1.02], abs=1e-9)


def test_retry_after_gates_everyone_and_is_honoured_by_the_retry() -> None:
    api = FakeApi(lambda job, n, t: rate_limited({"Retry-After": "2"}) if (job, n) == (0, 1)
                  else httpx.Response(200))
    drive(Layered(quota(10)), api, 3)
    assert api.times(0) == pytest.approx([0.0, 2.2])
    assert api.times(1) == pytest.approx([2.0])
    assert api.times(2) == pytest.approx([2.1])


def test_header_pacing_slows_below_the_floor() -> None:
    api = FakeApi(lambda job, n, t: httpx.Response(200, headers={"RateLimit": '"q";r=2;t=1',
                                                                  "RateLimit-Policy": '"q";q=10;w=1'}))
    drive(Layered(quota(10)), api, 4)
    assert api.times() == pytest.approx([0.0, 0.5, 1.0, 1.5], abs=1e-9)  # 2 left over 1 s, not 10/s


def test_without_headers_or_faults_it_is_the_token_bucket() -> None:
    scenario = {"server": {"latency_ms": 10, "quota": [{"limit": 5, "window_s": 1.0}],
                           "headers": {"dialect": "none"}},
                "workload": {"jobs": 20}, "client": {"concurrency": 20, "timeout_s": 60}}
    a, b = end_to_end(Layered, scenario), end_to_end(CorrectedTokenBucket, scenario)
    assert [x.sent_s for x in a.attempts] == [x.sent_s for x in b.attempts]
    assert a.metrics.throttled == 0


class Exact(Layered):
    policy = RetryPolicy(jitter=0.0, use_reset=True)


def test_the_breaker_is_outside_the_retries() -> None:
    r = end_to_end(Exact, {"server": {"faults": {"outages": [{"start_s": 0, "end_s": 85}]}},
                           "workload": {"jobs": 7, "release": "rate", "rate": 1 / 16},
                           "client": {"concurrency": 20, "timeout_s": 900}})
    arrivals = sorted(a.t for a in r.arrivals)
    # a job every 16 s: jobs 0-4 each fail a whole retry sequence, the 5th opens the breaker at 79.5 s;
    # job 5 waits for purgatory's probe (one tick after its 10 s ttl), job 6 goes through normally
    call = [0.0, 0.5, 1.5, 3.5, 7.5, 15.5]
    assert arrivals[:30] == pytest.approx([16 * k + t for k in range(5) for t in call])
    assert arrivals[30:] == [89.500001, 96.0]


def test_whole_stack_on_a_throttled_flaky_api_with_a_long_outage() -> None:
    scenario = {"server": {"latency_ms": 20, "quota": [{"limit": 10, "window_s": 1.0}],
                           "headers": {"dialect": "ietf-draft10"},
                           "faults": {"error_rate": 0.05, "outages": [{"start_s": 5, "end_s": 90}], "seed": 1}},
                "workload": {"jobs": 300, "release": "rate", "rate": 3},
                "client": {"concurrency": 10, "timeout_s": 900}}
    layered = end_to_end(Layered, scenario).metrics
    no_breaker = end_to_end(AdaptiveHeaders, scenario).metrics  # the same stack without the breaker
    retry_only = end_to_end(RetryBackoff, scenario).metrics
    # retries alone: most jobs spend their 6 attempts inside the 85 s outage
    assert (retry_only.completion, retry_only.attempts, retry_only.throttled) == (82 / 300, 1558, 25)
    # pacing: no 429 at all; the breaker then sheds 40 % of the attempts during the outage, and the jobs
    # it held back go through after it (a job that already failed its retries stays failed)
    assert (no_breaker.completion, no_breaker.attempts, no_breaker.throttled) == (229 / 300, 1089, 0)
    assert (layered.completion, layered.attempts, layered.throttled) == (233 / 300, 661, 0)
