"""The shared retry policy: what is retried, the backoff bounds, the server's word, when to stop."""

from __future__ import annotations

import random

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.retry_policy import RetryPolicy, is_failure


@pytest.mark.parametrize(("status", "headers", "retry"), [
    (429, {}, True), (500, {}, True), (502, {}, True), (503, {}, True), (504, {}, True),
    (403, {"retry-after": "3"}, True), (403, {"x-ratelimit-remaining": "0"}, True),
    (403, {}, False), (404, {}, False), (400, {}, False), (501, {}, False), (200, {}, False),
])
def test_what_is_retried(status: int, headers: dict[str, str], retry: bool) -> None:
    assert RetryPolicy().retryable(httpx.Response(status, headers=headers)) is retry


def test_transport_errors_are_retried_and_count_as_failures() -> None:
    err = httpx.ConnectError("refused")
    assert RetryPolicy().retryable(err)
    assert is_failure(err) and is_failure(httpx.Response(503))
    assert not is_failure(httpx.Response(429)) and not is_failure(httpx.Response(404))


@given(st.integers(0, 2**32), st.integers(1, 12))
def test_backoff_stays_within_25_percent_of_the_capped_nominal(seed: int, retry: int) -> None:
    p = RetryPolicy()
    nominal = min(30.0, 0.5 * 2 ** (retry - 1))
    assert 0.75 * nominal <= p.backoff_s(retry, random.Random(seed)) <= 1.25 * nominal


def test_server_wait_exact_by_default_up_only_when_asked() -> None:
    r = httpx.Response(429, headers={"retry-after": "4"})
    assert RetryPolicy().delay_s(r, 1, random.Random(1)) == 4.0
    spread = [RetryPolicy(retry_after_jitter=0.5).delay_s(r, 1, random.Random(s)) for s in range(50)]
    assert all(d is not None and 4.0 <= d <= 6.0 for d in spread)


def test_reset_is_used_only_by_header_aware_policies() -> None:
    r = httpx.Response(429, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "7"})
    assert RetryPolicy(jitter=0).delay_s(r, 1, random.Random(0)) == 0.5  # backoff: reset is ignored
    assert RetryPolicy(use_reset=True).delay_s(r, 1, random.Random(0)) == 7.0


def test_stops_after_max_attempts_and_on_absurd_waits() -> None:
    p = RetryPolicy()
    assert p.delay_s(httpx.Response(503), 5, random.Random(0)) is not None
    assert p.delay_s(httpx.Response(503), 6, random.Random(0)) is None
    assert p.delay_s(httpx.Response(429, headers={"retry-after": "3600"}), 1, random.Random(0)) is None
    assert p.single().delay_s(httpx.Response(503), 1, random.Random(0)) is None
