"""pyrate-limiter v4 (memory and SQLite): never more than L in any window W, per declared tier.

Under ``bench.clock.run`` pyrate's clocks follow the virtual loop: it imported ``monotonic_ns`` /
``time_ns`` / ``monotonic`` by name, and ``patch_time`` replaces those copies (checked below).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pyrate_limiter import AbstractBucket, InMemoryBucket, Limiter, Rate, RateItem, SQLiteBucket

from bench.clock import run
from strategies.base import Job, Quota, Tier
from strategies.pyrate import PyrateMemory, PyrateMemoryBuffered, PyrateSqlite, pyrate_rates
from strategies.registry import resolve
from tests.strategies.harness import Timeline, drive, end_to_end, quota, scenario

BOTH = [PyrateMemory, PyrateSqlite]
TWO_TIERS = Quota((Tier(5, 1.0), Tier(8, 10.0)))


def clumps(tl: Timeline) -> list[tuple[float, int]]:
    return sorted(Counter(round(t, 6) for t in tl.times).items())


def test_registered_under_their_names() -> None:
    assert resolve("pyrate-memory") is PyrateMemory
    assert resolve("pyrate-sqlite") is PyrateSqlite
    assert PyrateMemory.description and PyrateSqlite.description


@pytest.mark.parametrize("cls", BOTH)
def test_clumps_of_L_every_window_plus_one_ms(cls: type[PyrateMemory]) -> None:
    tl = drive(cls(quota(5)), 12)
    # a refused acquire sleeps until the blocking entry leaves the window, + 1 ms (whole-ms timestamps,
    # inclusive lower bound), + buffer_ms (0 here)
    assert clumps(tl) == [(0.0, 5), (1.001, 5), (2.002, 2)]
    assert tl.peak(1.0) == 5
    assert tl.order == list(range(12))  # one asyncio.Lock around each whole acquire: FIFO


@pytest.mark.parametrize("cls", BOTH)
def test_multi_tier_respects_every_tier(cls: type[PyrateMemory]) -> None:
    tl = drive(cls(TWO_TIERS), 12)
    # 5 at 0 (second tier), 3 more at 1.001 (the 10 s tier is full at 8), then at 10.001 the first
    # entries leave the 10 s window: 4 more (the 1 s tier would allow 5)
    assert clumps(tl) == [(0.0, 5), (1.001, 3), (10.001, 4)]
    assert (tl.peak(1.0), tl.peak(10.0)) == (5, 8)


def test_default_buffer_adds_50_ms_to_every_wait() -> None:
    # pyrate-memory-buffered keeps pyrate's default buffer_ms=50
    assert resolve("pyrate-memory-buffered") is PyrateMemoryBuffered
    assert clumps(drive(PyrateMemoryBuffered(quota(5)), 12)) == [(0.0, 5), (1.051, 5), (2.102, 2)]


def test_pyrate_rejects_many_declared_tier_lists() -> None:
    # equal limits, or a longer window that is denser: pyrate refuses the list outright
    for rates in ([Rate(10, 1000), Rate(10, 2000)], [Rate(10, 1000), Rate(16, 1500)]):
        with pytest.raises(ValueError, match="Invalid rate list"):
            InMemoryBucket(rates)


def test_rates_are_reshaped_never_loosened() -> None:
    assert [(r.limit, r.interval) for r in pyrate_rates([Tier(20, 1.0), Tier(100, 60.0)])] == [
        (20, 1000), (100, 60000)]  # fmt: skip
    assert [(r.limit, r.interval) for r in pyrate_rates([Tier(10, 2.0), Tier(10, 1.0)])] == [(10, 2000)]
    assert [(r.limit, r.interval) for r in pyrate_rates([Tier(16, 1.5), Tier(10, 1.0)])] == [
        (10, 1000), (15, 1500)]  # fmt: skip
    # same window twice: the smaller limit; sub-millisecond windows round up to 1 ms
    assert [(r.limit, r.interval) for r in pyrate_rates([Tier(7, 1.0), Tier(5, 1.0)])] == [(5, 1000)]
    assert [(r.limit, r.interval) for r in pyrate_rates([Tier(1, 0.0001)])] == [(1, 1)]
    # 12 per 3 s implies 12 per 2 s; 100 per 10 s is denser than 12 per 3 s: 40
    shaped = pyrate_rates([Tier(10, 1.0), Tier(12, 3.0), Tier(12, 2.0), Tier(100, 10.0)])
    assert [(r.limit, r.interval) for r in shaped] == [(10, 1000), (12, 3000), (40, 10000)]
    InMemoryBucket(shaped)  # accepted


def test_reshaped_tiers_run() -> None:
    # 10/1 s and 10/2 s: only the 2 s tier remains, clumps of 10 every 2.001 s
    tl = drive(PyrateMemory(Quota((Tier(10, 1.0), Tier(10, 2.0)))), 25)
    assert clumps(tl) == [(0.0, 10), (2.001, 10), (4.002, 5)]


def test_the_virtual_clock_reaches_pyrates_imported_names() -> None:
    from pyrate_limiter import clocks, limiter
    from pyrate_limiter.buckets import sqlite_bucket

    async def main() -> tuple[int, int, float, int]:
        await asyncio.sleep(2.5)
        # the names pyrate imported from time (``from time import monotonic_ns`` etc.)
        imported = vars(clocks)["monotonic_ns"], vars(sqlite_bucket)["time_ns"], vars(limiter)["monotonic"]
        bucket_now: int = InMemoryBucket([Rate(1, 1000)]).now()  # type: ignore[no-untyped-call]
        return imported[0](), imported[1]() - real_epoch_ns, imported[2](), bucket_now

    real_epoch_ns = time.time_ns() // 10**9 * 10**9  # bench.clock anchors on the whole second
    mono_ns, wall_delta_ns, mono, bucket_now_ms = run(main())
    assert mono_ns == 2_500_000_000 and mono == 2.5 and bucket_now_ms == 2500
    assert 2.5e9 <= wall_delta_ns < 2.5e9 + 5e9  # the entry's whole second + 2.5 virtual seconds
    assert vars(clocks)["monotonic_ns"] is time.monotonic_ns  # restored on exit


def test_end_to_end_two_tiers_never_over_either() -> None:
    sc = scenario(0, 12, quota=[{"algorithm": "sliding-log", "limit": 5, "window_s": 1.0},
                                {"algorithm": "sliding-log", "limit": 8, "window_s": 10.0}])
    assert sc.declared == TWO_TIERS
    for cls in BOTH:
        r = end_to_end(cls, sc)
        assert r.metrics.peak_window_count == (5, 8)
        assert (r.metrics.throttled, r.metrics.succeeded) == (0, 12)


@pytest.mark.parametrize("cls", BOTH)
def test_without_a_quota_does_not_wait(cls: type[PyrateMemory]) -> None:
    assert set(drive(cls(Quota(())), 10).times) == {0.0}


# --- SQLite off the event loop ---------------------------------------------------------------------


class RecordingSqlite(PyrateSqlite):
    """Records which thread each SQLite put ran on, and where the database file was."""

    threads: list[str]
    paths: list[Path]

    def _bucket(self, rates: list[Rate], workdir: Path) -> AbstractBucket:
        bucket = super()._bucket(rates, workdir)
        assert isinstance(bucket, SQLiteBucket)
        real_put = bucket.put

        def put(item: RateItem) -> bool:
            self.threads.append(threading.current_thread().name)
            return real_put(item)

        bucket.put = put  # type: ignore[method-assign]
        self.paths.append(workdir / "pyrate.sqlite")
        return bucket


async def batch(n: int) -> AsyncIterator[Job]:
    for i in range(n):
        yield Job(i)


def sqlite_run(strategy: RecordingSqlite, n: int, *, virtual: bool) -> list[int]:
    strategy.threads, strategy.paths = [], []
    sent: list[int] = []

    async def send(job: Job) -> httpx.Response:
        sent.append(job.id)
        await asyncio.sleep(0)
        return httpx.Response(200)

    if virtual:
        run(strategy.run(batch(n), send))
    else:
        asyncio.run(strategy.run(batch(n), send))  # a real loop; nothing waits at 1000/s
    return sent


def test_on_a_real_loop_sqlite_runs_on_a_worker_thread_and_the_file_is_removed() -> None:
    strategy = RecordingSqlite(quota(1000))
    assert sqlite_run(strategy, 20, virtual=False) == list(range(20))
    assert len(strategy.threads) == 20
    assert all(name.startswith("pyrate-sqlite") for name in strategy.threads)  # never the loop's thread
    assert not strategy.paths[0].exists() and not strategy.paths[0].parent.exists()


def test_sqlite_runs_on_its_worker_thread_even_under_the_virtual_loop() -> None:
    # The virtual loop holds its clock while a thread works, so offloading stays deterministic.
    strategy = RecordingSqlite(quota(1000))
    assert sqlite_run(strategy, 5, virtual=True) == list(range(5))
    assert all(name.startswith("pyrate-sqlite") for name in strategy.threads)
    assert not strategy.paths[0].exists()


def test_the_offload_can_be_turned_off() -> None:
    class Inline(RecordingSqlite):
        offload_io = False

    strategy = Inline(quota(1000))
    assert sqlite_run(strategy, 3, virtual=True) == [0, 1, 2]
    assert set(strategy.threads) == {threading.main_thread().name}


def test_sync_try_acquire_blocks_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Why try_acquire_async: the synchronous call waits with time.sleep, freezing every other task.
    # (time.sleep is replaced by a recorder: the point is *that* it is called, on the loop's thread.)
    from pyrate_limiter import limiter as pyrate_limiter_module

    slept: list[float] = []
    monkeypatch.setattr(pyrate_limiter_module, "sleep", slept.append)

    async def main() -> int:
        lim = Limiter(InMemoryBucket([Rate(1, 50)]), buffer_ms=0)  # 1 per 50 ms
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        lim.try_acquire("k")
        with contextlib.suppress(TimeoutError):
            lim.try_acquire("k", timeout=0.2)  # refused: sleep(0.051) on the loop thread, then re-put
        during = ticks - before
        task.cancel()
        lim.close()
        return during

    assert run(main()) == 0 and slept and slept[0] == pytest.approx(0.051)
