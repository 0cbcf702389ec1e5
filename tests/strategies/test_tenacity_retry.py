"""tenacity: the retry-backoff policy through tenacity.AsyncRetrying, timeline for timeline."""

from __future__ import annotations

import time
import warnings

import httpx
import pytest
from tenacity import wait_exponential_jitter

from strategies.registry import resolve
from strategies.retry_backoff import RetryBackoff
from strategies.tenacity_retry import TenacityRetry
from tests.strategies.fake_api import FakeApi, drive, end_to_end, quota, rate_limited


def test_registered_under_its_name() -> None:
    assert resolve("tenacity") is TenacityRetry
    assert TenacityRetry.description


def test_retry_after_is_honoured_exactly_and_sleep_follows_the_virtual_loop() -> None:
    api = FakeApi(lambda job, n, t: rate_limited({"Retry-After": "30"}) if n == 1 else httpx.Response(200))
    wall0 = time.perf_counter()
    assert drive(TenacityRetry(quota()), api, 1) == 30.0
    assert api.times(0) == [0.0, 30.0]
    # tenacity slept with asyncio.sleep: 30 virtual seconds took (much) less than one real second
    assert time.perf_counter() - wall0 < 1.0


def flaky(job: int, n: int, t: float) -> httpx.Response | Exception:
    """Per job: a mix of 503s, transport errors and 429s with and without Retry-After, then 200."""
    script: list[httpx.Response | Exception] = [
        httpx.Response(503), httpx.ConnectError("reset"), rate_limited({"Retry-After": "1"}),
        httpx.Response(429), httpx.Response(200),
    ]
    return script[(n - 1 + job) % len(script)] if n <= 4 else httpx.Response(200)


@pytest.mark.parametrize("respond", [flaky, lambda job, n, t: httpx.Response(503)])
def test_same_timeline_as_retry_backoff_with_the_same_seed(respond: object) -> None:
    apis = [FakeApi(respond), FakeApi(respond)]  # type: ignore[arg-type]
    ends = [drive(cls(quota(concurrency=3)), api, 8) for cls, api in zip((RetryBackoff, TenacityRetry), apis,
                                                                        strict=True)]
    assert ends[0] == ends[1]
    assert apis[0].calls == apis[1].calls
    assert len(apis[1].calls) > 8


def test_gives_up_after_six_attempts_with_the_last_response() -> None:
    api = FakeApi(lambda job, n, t: httpx.Response(502))
    drive(TenacityRetry(quota()), api, 2)
    assert [len(api.times(j)) for j in (0, 1)] == [6, 6]


def test_absurd_retry_after_stops_at_once() -> None:
    api = FakeApi(lambda job, n, t: rate_limited({"Retry-After": "3600"}))
    assert drive(TenacityRetry(quota()), api, 1) == 0.0
    assert len(api.calls) == 1


def test_same_end_to_end_figures_as_retry_backoff() -> None:
    scenario = {"server": {"latency_ms": 10, "quota": [{"limit": 5, "window_s": 1.0}],
                           "faults": {"error_rate": 0.2, "seed": 4}},
                "workload": {"jobs": 30}, "client": {"concurrency": 10, "timeout_s": 300}}
    a, b = end_to_end(RetryBackoff, scenario), end_to_end(TenacityRetry, scenario)
    assert [(x.job, x.attempt, x.sent_s, x.status) for x in a.attempts] == \
           [(x.job, x.attempt, x.sent_s, x.status) for x in b.attempts]
    m = b.metrics
    # 30 jobs at once, 10 in flight, 5/s allowed: the herd outlasts 6 attempts for 4 jobs
    assert (m.attempts, m.succeeded, m.throttled, m.errors) == (122, 26, 91, 5)


def test_finding_wait_exponential_jitter_initial_is_deprecated() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wait_exponential_jitter(initial=0.5, max=30)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
