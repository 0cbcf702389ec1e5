"""Worker pool: concurrency never exceeds the pool, the producer blocks when the queue is full."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bench.clock import run
from strategies.base import Job, Quota
from strategies.registry import resolve
from strategies.worker_pool import WorkerPool
from tests.strategies.harness import TICKS, arrival_times, drive, end_to_end, quota, scenario


def test_registered_under_its_name() -> None:
    assert resolve("worker-pool") is WorkerPool
    assert WorkerPool.description


def test_in_flight_never_exceeds_the_pool() -> None:
    # 3 workers, 100 ms responses, 100/s allowed: the pool binds, in waves of 3 a token (10 ms) apart
    tl = drive(WorkerPool(quota(100, concurrency=3)), 12, latency=0.1)
    assert tl.peak_in_flight == 3
    assert tl.times == pytest.approx([w * 0.1 + k * 0.01 for w in range(4) for k in range(3)], abs=TICKS)


def test_one_shared_bucket_paces_all_workers() -> None:
    tl = drive(WorkerPool(quota(10, concurrency=4)), 20, latency=0.05)
    assert tl.times == pytest.approx([0.1 * k for k in range(20)], abs=TICKS)
    assert tl.order == list(range(20))  # FIFO through the queue


def test_slow_responses_do_not_turn_into_bursts() -> None:
    # the combined-order experiment (test_combined): a worker holds its "permit" while it waits
    # for a token, so it behaves like semaphore+token-bucket
    tl = drive(WorkerPool(quota(10, concurrency=2)), 30, latency=lambda j: 1.0 if j.id < 2 else 0.01)
    assert tl.times == pytest.approx([0.0, 0.1] + [1.0 + 0.1 * k for k in range(28)], abs=TICKS)
    assert tl.peak(1.0) == 10


def test_the_producer_blocks_when_the_queue_is_full() -> None:
    # 2 workers, queue of 4: at t=0 the workers hold jobs 0 and 1, the queue 2..5 and the producer 6,
    # blocked in put(). Job 7 is pulled only when a worker frees a queue slot (0.05: job 0 is done).
    tl = drive(WorkerPool(quota(10, concurrency=2)), 20, latency=0.05)
    pulled = [tl.pulled[j] for j in range(20)]
    assert pulled[:7] == [0.0] * 7
    assert pulled[7:] == pytest.approx([0.05 + 0.1 * k for k in range(13)], abs=TICKS)
    # never more than workers + maxsize + 1 jobs taken ahead of being sent
    for t in pulled:
        assert sum(p <= t for p in pulled) - sum(s <= t for s in tl.times) <= 2 + 4 + 1


def test_only_the_pool_exists_however_many_jobs() -> None:
    async def main() -> int:
        most = 0

        async def jobs() -> AsyncIterator[Job]:
            nonlocal most
            for i in range(200):
                most = max(most, len(asyncio.all_tasks()))
                yield Job(i)

        async def send(job: Job) -> httpx.Response:
            await asyncio.sleep(0.001)
            return httpx.Response(200)

        await WorkerPool(quota(1000, concurrency=5)).run(jobs(), send)
        return most

    assert run(main()) == 1 + 5  # the main task and the workers, not one task per job


def test_a_transport_error_ends_only_that_job() -> None:
    sent: list[int] = []

    async def jobs() -> AsyncIterator[Job]:
        for i in range(4):
            yield Job(i)

    async def send(job: Job) -> httpx.Response:
        sent.append(job.id)
        if job.id == 1:
            raise httpx.ReadTimeout("slow")
        return httpx.Response(200)

    run(WorkerPool(quota(100, concurrency=2)).run(jobs(), send))
    assert sorted(sent) == [0, 1, 2, 3]


def test_end_to_end_never_over_the_limit() -> None:
    r = end_to_end(WorkerPool, scenario(10, 30, concurrency=4))
    assert r.metrics.peak_window_count == (10,) and r.metrics.throttled == 0
    assert arrival_times(r) == pytest.approx([0.1 * k for k in range(30)], abs=TICKS)


def test_without_a_quota_the_pool_is_the_only_limit() -> None:
    tl = drive(WorkerPool(Quota((), concurrency=3)), 6, latency=0.01)
    assert tl.times == [0.0] * 3 + [0.01] * 3
