"""aiometer run_on_each(max_at_once, max_per_second): one start per 1/r, never two in one interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bench.clock import TICK_S as TICK
from bench.clock import run
from strategies.aiometer_pacing import Aiometer
from strategies.base import Job, Quota
from strategies.registry import resolve
from tests.strategies.harness import TICKS, arrival_times, drive, end_to_end, gaps, quota, scenario

# aiometer's GCRA re-bases on the actual start time; float residues cost a virtual tick now and then
SPACING_SLACK = TICK + 1e-9


def test_registered_under_its_name() -> None:
    assert resolve("aiometer") is Aiometer
    assert Aiometer.description


def test_a_batch_starts_one_per_interval_from_zero() -> None:
    tl = drive(Aiometer(quota(10)), 30)
    assert tl.times[0] == 0.0
    assert all(0.1 - 1e-9 <= g <= 0.1 + SPACING_SLACK for g in gaps(tl.times))  # never two in 1/r
    assert tl.times == pytest.approx([0.1 * k for k in range(30)], abs=30 * TICK)
    assert tl.peak(1.0) == 10
    assert tl.order == list(range(30))  # in release order


def test_max_at_once_is_the_declared_concurrency() -> None:
    # 500 ms responses, 2 at once: pairs 0.1 apart (rate), every 0.5 s (a permit frees)
    tl = drive(Aiometer(quota(10, concurrency=2)), 10, latency=0.5)
    assert tl.peak_in_flight == 2
    assert tl.times == pytest.approx([0.0, 0.1, 0.5, 0.6, 1.0, 1.1, 1.5, 1.6, 2.0, 2.1], abs=TICKS)


def test_an_idle_stream_snaps_to_the_slot_grid() -> None:
    # Released every 0.25 s at 10/s: aiometer's iteration cannot wait for a release, so idle slots
    # tick every 0.1 s and a job leaves at the first slot after its release (0.25 → 0.3, 0.75 → 0.8).
    tl = drive(Aiometer(quota(10)), 8, releases=[0.25 * k for k in range(8)])
    assert tl.times == pytest.approx([0.0, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8], abs=20 * TICK)
    assert all(0 <= tl.sent[j] - 0.25 * j < 0.1 for j in range(8))  # never more than 1/r late
    assert tl.finished == pytest.approx(1.8, abs=20 * TICK)  # stops with the stream, no trailing slot


def test_no_declared_quota_is_max_at_once_only() -> None:
    # 5 at t=0 and 2 at 0.5, 3 at once: slots wait for releases instead of spinning
    tl = drive(Aiometer(Quota((), concurrency=3)), 7, latency=0.01, releases=[0.0] * 5 + [0.5] * 2)
    assert tl.times == [0.0, 0.0, 0.0, 0.01, 0.01, 0.5, 0.5]
    assert tl.peak_in_flight == 3 and tl.finished == 0.51


def test_a_transport_error_ends_only_that_job() -> None:
    sent: list[int] = []

    async def jobs() -> AsyncIterator[Job]:
        for i in range(4):
            yield Job(i)

    async def send(job: Job) -> httpx.Response:
        sent.append(job.id)
        if job.id == 1:
            raise httpx.ConnectError("refused")
        await asyncio.sleep(0)
        return httpx.Response(200)

    run(Aiometer(quota(100)).run(jobs(), send))
    assert sent == [0, 1, 2, 3]


def test_end_to_end_never_over_the_limit() -> None:
    r = end_to_end(Aiometer, scenario(10, 30))
    assert r.metrics.peak_window_count == (10,) and r.metrics.throttled == 0
    assert all(0.1 - 1e-9 <= g <= 0.1 + SPACING_SLACK for g in gaps(arrival_times(r)))
