"""retry-backoff: no limiter, a concurrency cap, retries with exponential backoff honouring Retry-After."""

from __future__ import annotations

import itertools
import math
import random
import time
from email.utils import formatdate

import httpx
import pytest

from strategies.registry import resolve
from strategies.retry_backoff import RetryBackoff
from strategies.retry_policy import RetryPolicy
from tests.strategies.fake_api import FakeApi, drive, end_to_end, quota, rate_limited


def test_registered_under_its_name() -> None:
    assert resolve("retry-backoff") is RetryBackoff
    assert RetryBackoff.description


def test_retry_after_seconds_is_honoured_exactly() -> None:
    api = FakeApi(lambda job, n, t: rate_limited({"Retry-After": "2"}) if n == 1 else httpx.Response(200))
    assert drive(RetryBackoff(quota()), api, 1) == 2.0
    assert api.times(0) == [0.0, 2.0]  # no jitter on the server's word


def test_retry_after_http_date_is_honoured() -> None:
    wanted: list[float] = []

    def respond(job: int, n: int, t: float) -> httpx.Response:
        if n > 1:
            return httpx.Response(200)
        now = time.time()  # the patched wall clock, as the parser reads it
        wanted.append(math.ceil(now) + 2 - now)  # HTTP-dates have whole seconds
        return rate_limited({"Retry-After": formatdate(math.ceil(now) + 2, usegmt=True)})

    api = FakeApi(respond)
    drive(RetryBackoff(quota()), api, 1)
    assert api.times(0)[1] == pytest.approx(wanted[0], abs=2e-6)
    assert wanted[0] == pytest.approx(2.0)  # the virtual wall clock starts on a whole second


def test_exponential_schedule_with_the_fixed_seed_then_gives_up() -> None:
    api = FakeApi(lambda job, n, t: httpx.Response(503))
    drive(RetryBackoff(quota()), api, 1)
    times = api.times(0)
    assert len(times) == 6  # capped at 6 attempts
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for n, gap in enumerate(gaps, start=1):
        assert 0.75 * 0.5 * 2 ** (n - 1) <= gap + 1e-6 and gap <= 1.25 * 0.5 * 2 ** (n - 1) + 1e-6
    # and exactly the seeded draws: replaying random.Random(0) gives the same schedule (to the µs tick)
    rng = random.Random(RetryBackoff.seed)
    expected = [RetryPolicy().backoff_s(n, rng) for n in range(1, 6)]
    assert gaps == pytest.approx(expected, abs=2e-6)
    assert gaps == pytest.approx([0.586105, 1.128977, 1.920572, 3.517834, 8.045099], abs=2e-6)  # seed 0


def test_transport_errors_are_retried_then_the_job_ends() -> None:
    api = FakeApi(lambda job, n, t: httpx.ConnectError("refused") if n < 3 else httpx.Response(200))
    drive(RetryBackoff(quota()), api, 1)
    assert len(api.times(0)) == 3
    gone = FakeApi(lambda job, n, t: httpx.ConnectError("refused"))
    drive(RetryBackoff(quota()), gone, 2)  # the final error is swallowed per job, the run completes
    assert len(gone.calls) == 12


def test_non_retryable_status_is_final() -> None:
    api = FakeApi(lambda job, n, t: httpx.Response(404))
    drive(RetryBackoff(quota()), api, 3)
    assert len(api.calls) == 3


def test_semaphore_is_released_during_the_backoff() -> None:
    # concurrency 1: job 0 is told to wait 5 s; job 1 must not wait behind it
    api = FakeApi(lambda job, n, t: rate_limited({"Retry-After": "5"}) if (job, n) == (0, 1)
                  else httpx.Response(200), latency_s=0.1)
    drive(RetryBackoff(quota(concurrency=1)), api, 2)
    assert api.times(1) == [0.1]
    assert api.times(0) == [0.0, 5.1]


def test_no_limiter_learns_the_rate_from_429s_end_to_end() -> None:
    r = end_to_end(RetryBackoff, {
        "server": {"latency_ms": 10, "quota": [{"limit": 5, "window_s": 1.0}]},
        "workload": {"jobs": 20}, "client": {"concurrency": 20, "timeout_s": 120},
    })
    m = r.metrics
    assert r.status == "ok" and m.completion == 1.0
    # 20 jobs at once against 5/s: 5 pass, 15 are told "Retry-After: 1" and all come back together 1.01 s
    # later (10 ms latency + 1 s), 5 pass... a herd of 20, 15, 10, 5: every wave but the last refused.
    waves = sorted({round(a.sent_s, 6) for a in r.attempts})
    assert waves == [0.0, 1.01, 2.02, 3.03]
    assert [sum(1 for a in r.attempts if round(a.sent_s, 6) == w) for w in waves] == [20, 15, 10, 5]
    assert (m.attempts, m.throttled, m.peak_window_count, m.burst_ratio) == (50, 30, (20,), 4.0)
    # Retry-After is exact here, so the makespan is near the oracle's: cheap in time, costly in 429s
    assert m.duration_s == pytest.approx(3.04)
