"""Semaphore and token bucket in both orders: does the order matter? (The article says so.)

The experiment: limit 10 per second (bucket capacity 1, one token per 0.1 s), two permits. Jobs 0
and 1 are slow (they hold both permits for a while), every other response takes 10 ms.

- semaphore outside: a task sends the instant it gets its token, so sends keep the 0.1 s spacing;
  nothing is sent while both permits are held, and sending resumes at the bucket's pace.
- bucket outside: tokens keep being granted during the stall to tasks that then queue for a permit;
  when a permit frees they go out back to back, 10 ms apart (one permit cycling at the latency).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from strategies.base import Job, Quota
from strategies.combined import BucketThenSemaphore, SemaphoreThenBucket
from strategies.registry import resolve
from tests.strategies.harness import TICKS, arrival_times, drive, end_to_end, gaps, quota, scenario

LIMIT = 10


def slow_first_two(seconds: float) -> Callable[[Job], float]:
    def latency(job: Job) -> float:
        return seconds if job.id < 2 else 0.01

    return latency


def min_gap(times: list[float]) -> float:
    return min(gaps(times))


Q = quota(LIMIT, concurrency=2)


def test_registered_under_their_names() -> None:
    assert resolve("semaphore+token-bucket") is SemaphoreThenBucket
    assert resolve("token-bucket+semaphore") is BucketThenSemaphore
    assert SemaphoreThenBucket.description and BucketThenSemaphore.description


@pytest.mark.parametrize("cls", [SemaphoreThenBucket, BucketThenSemaphore])
def test_with_even_latency_the_order_does_not_matter(cls: type[SemaphoreThenBucket]) -> None:
    tl = drive(cls(Q), 30, latency=0.05)
    assert tl.times == pytest.approx([0.1 * k for k in range(30)], abs=TICKS)
    assert tl.peak_in_flight == 1  # 50 ms responses, 100 ms apart: the semaphore never binds


def test_semaphore_outside_keeps_the_spacing_through_slow_responses() -> None:
    tl = drive(SemaphoreThenBucket(Q), 30, latency=slow_first_two(1.0))
    # 0 and 0.1 take both permits until 1.0 and 1.1; then one send per 0.1 s from the first free permit
    assert tl.times == pytest.approx([0.0, 0.1] + [1.0 + 0.1 * k for k in range(28)], abs=TICKS)
    assert min_gap(tl.times) >= 0.1 - TICKS
    assert tl.peak(1.0) == LIMIT
    assert tl.peak_in_flight == 2


def test_bucket_outside_bursts_after_slow_responses() -> None:
    tl = drive(BucketThenSemaphore(Q), 30, latency=slow_first_two(1.0))
    # tokens for jobs 2..9 were granted at 0.2 .. 0.9 while both permits were held; at 1.0 one
    # permit frees and they leave 10 ms apart: 1.00, 1.01, ..., 1.08, then the bucket's pace again
    expected = [0.0, 0.1] + [1.0 + 0.01 * k for k in range(9)] + [1.1 + 0.1 * k for k in range(19)]
    assert tl.times == pytest.approx(expected, abs=TICKS)
    assert tl.peak(1.0) == 18  # 1.8× the limit in [1.0, 2.0)
    assert tl.peak_in_flight == 2  # the concurrency cap still holds; the rate does not


def test_the_bucket_outside_burst_grows_with_the_stall() -> None:
    slow = slow_first_two(3.0)
    inside = drive(SemaphoreThenBucket(Q), 60, latency=slow)
    outside = drive(BucketThenSemaphore(Q), 60, latency=slow)
    assert inside.peak(1.0) == LIMIT
    assert outside.peak(1.0) == 38  # 28 pre-spent tokens + the bucket's pace
    # the pre-spent tokens buy the bucket-outside order an earlier finish: that is the burst
    assert outside.finished < inside.finished
    assert (inside.finished, outside.finished) == pytest.approx((8.71, 5.91), abs=TICKS)


@pytest.mark.parametrize("cls", [SemaphoreThenBucket, BucketThenSemaphore])
def test_end_to_end_with_fixed_latency_both_respect_the_limit(cls: type[SemaphoreThenBucket]) -> None:
    # The mock's fixed 10 ms latency is even latency: both orders send every 0.1 s, never a 429.
    r = end_to_end(cls, scenario(LIMIT, 25, concurrency=2))
    assert r.metrics.peak_window_count == (LIMIT,) and r.metrics.throttled == 0
    assert arrival_times(r) == pytest.approx([0.1 * k for k in range(25)], abs=TICKS)


def test_no_declared_quota_is_a_plain_semaphore() -> None:
    tl = drive(SemaphoreThenBucket(Quota((), concurrency=3)), 6, latency=0.01)
    assert tl.times == pytest.approx([0.0] * 3 + [0.01] * 3, abs=TICKS)
