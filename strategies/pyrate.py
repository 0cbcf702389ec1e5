"""pyrate-limiter v4: one ``Rate`` per declared tier, in memory or in SQLite, ``buffer_ms=0``.

``Limiter(bucket, buffer_ms=0)`` with ``await limiter.try_acquire_async(...)`` before each send. Unlike
the other libraries, pyrate is configured with the declared tiers themselves (``Rate(limit,
window_ms)`` each, a multi-tier bucket when the API declares several), not normalised to ``r`` per
second: its default algorithm is a sliding-window log, the same family as most APIs' limits.

What pyrate-limiter 4.5.1 does (read from its source, pinned by the tests):

- ``buffer_ms`` is an argument of ``Limiter`` and defaults to **50**: every wait is the bucket's
  computed wait plus 50 ms. We pass 0, so that limiters compare at the declared rate. That margin is what
  absorbs the time a clump takes to reach the server: with 0, real runs of the default scenario get 429s
  (docs/strategies.md).
- The sliding log admits up to ``L`` at once, then a refused acquire sleeps exactly until the entry
  blocking it leaves the window (``+ 1 ms``: timestamps are whole milliseconds and the window's lower
  bound is inclusive): clumps of ``L`` every ``W + 1 ms``. Never more than ``L`` in any window.
- ``try_acquire_async`` holds one ``asyncio.Lock`` for the whole acquire, sleep included: waiters
  are served strictly one at a time, in FIFO order. The synchronous ``try_acquire`` would sleep with
  ``time.sleep`` and block the loop: never use it in a coroutine.
- Clocks: the in-memory bucket reads ``time.monotonic_ns`` (``MonotonicClock``), the SQLite bucket
  ``time.time_ns`` (wall clock: an NTP step moves its windows), both imported by name into pyrate's
  modules (``bench.clock.patch_time`` patches those copies). Timestamps are whole milliseconds.
- A rate list must have strictly increasing windows *and* limits and non-increasing density, or the
  bucket raises ``ValueError``. Declared quotas need not look like that (``10/1 s`` with ``10/2 s``,
  or ``10/1 s`` with ``16/1.5 s``), so :func:`pyrate_rates` drops the tiers another tier implies and
  lowers a longer tier's limit to the shorter tier's density when it is denser: never looser than
  declared.
- ``Limiter(bucket)`` starts a background leaker that deletes expired entries every 10 s: a daemon
  thread (with its own event loop) for a synchronous bucket, an asyncio task for an async one.
  We dispose of the bucket and close the limiter at the end of the run.

**SQLite and the event loop.** Every SQLite ``put`` runs a query and a ``COMMIT`` on the caller's
thread: about 1 ms on this machine's ext4 disk, up to 20 ms when the commit waits for an fsync, with
the whole event loop frozen meanwhile (pyrate has no async SQLite bucket). :class:`PyrateSqlite`
therefore wraps the bucket so every call runs on one dedicated worker thread, and the loop keeps
serving other requests while SQLite works. (The virtual loop of ``bench.clock`` holds its clock still
while a worker thread is busy, so this stays deterministic in tests.) The database is a fresh file in a
temporary directory, deleted at the end of the run (SQLite's defaults: rollback journal, ``synchronous=FULL``).
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from pyrate_limiter import (
    AbstractBucket,
    BucketAsyncWrapper,
    InMemoryBucket,
    Limiter,
    Rate,
    RateItem,
    SQLiteBucket,
)

from strategies.base import Job, Jobs, Param, Send, Strategy, Tier, for_each

__all__ = ["PyrateMemory", "PyrateMemoryBuffered", "PyrateSqlite", "pyrate_rates"]

#: The bucket key every request is counted under (one client, one quota).
KEY = "ratebench"


def pyrate_rates(tiers: Sequence[Tier]) -> list[Rate]:
    """One ``Rate(limit, window_ms)`` per declared tier, reshaped into a list pyrate accepts.

    Windows are rounded *up* to whole milliseconds (a longer window is stricter). A tier is dropped
    when another with a window at least as long and a limit no larger implies it; a longer tier that
    is denser than a shorter one gets the shorter one's density (its limit only goes down).

    >>> pyrate_rates([Tier(100, 60.0), Tier(20, 1.0)])
    [limit=20/1000, limit=100/60000]
    >>> pyrate_rates([Tier(10, 1.0), Tier(10, 2.0)])  # 10 per 2 s implies 10 per 1 s
    [limit=10/2000]
    >>> pyrate_rates([Tier(10, 1.0), Tier(16, 1.5)])  # 16 per 1.5 s is denser: 15
    [limit=10/1000, limit=15/1500]
    """
    pairs = sorted({(max(1, math.ceil(t.window_s * 1000 - 1e-6)), t.limit) for t in tiers})
    kept: list[tuple[int, int]] = []
    for interval, declared in pairs:
        limit = declared
        while True:
            while kept and kept[-1][1] >= limit:  # this tier implies the shorter one
                kept.pop()
            if kept and limit * kept[-1][0] > kept[-1][1] * interval:  # denser than the shorter one
                limit = kept[-1][1] * interval // kept[-1][0]
                continue
            break
        kept.append((interval, limit))
    return [Rate(limit, interval) for interval, limit in kept]


class _Offloaded(BucketAsyncWrapper):
    """An async view of a blocking bucket: every call runs on ``executor`` (one thread), off the loop."""

    def __init__(self, bucket: AbstractBucket, executor: ThreadPoolExecutor) -> None:
        super().__init__(bucket)
        self._executor = executor

    async def _call(self, fn: Callable[..., object], *args: object) -> Any:
        # The wrapped bucket is synchronous: its results are plain values, never awaitables.
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def put(self, item: RateItem) -> bool:
        return bool(await self._call(self.bucket.put, item))

    async def waiting(self, item: RateItem) -> int:
        return int(await self._call(self.bucket.waiting, item))

    async def leak(self, current_timestamp: int | None = None) -> int:
        return int(await self._call(self.bucket.leak, current_timestamp))

    async def count(self) -> int:
        return int(await self._call(self.bucket.count))

    async def peek(self, index: int) -> RateItem | None:
        item: RateItem | None = await self._call(self.bucket.peek, index)
        return item

    async def flush(self) -> None:
        await self._call(self.bucket.flush)

    def close(self) -> None:
        self.bucket.close()


#: pyrate's margin added to every wait (its library default is 50; we normalise it to 0).
BUFFER_MS = Param("buffer_ms", int, 0, "milliseconds pyrate adds to every wait (library default 50)", minimum=0)


class _Pyrate(Strategy):
    params = (BUFFER_MS,)
    #: Added by pyrate to every wait; its default is 50 ms (we normalise it to 0).
    buffer_ms: ClassVar[int] = 0

    def _bucket(self, rates: list[Rate], workdir: Path) -> AbstractBucket:
        raise NotImplementedError

    async def _open(self, rates: list[Rate], workdir: Path) -> tuple[AbstractBucket, Callable[[], None]]:
        """The bucket to give the limiter, and what to call once the run is over."""
        return self._bucket(rates, workdir), lambda: None

    async def run(self, jobs: Jobs, send: Send) -> None:
        if not self.quota.tiers:  # no declared quota: nothing to limit
            await for_each(jobs, send)
            return
        rates = pyrate_rates(self.quota.tiers)
        with tempfile.TemporaryDirectory(prefix="ratebench-pyrate-") as workdir:
            bucket, cleanup = await self._open(rates, Path(workdir))
            limiter = Limiter(bucket, buffer_ms=self.buffer_ms)

            async def one(job: Job) -> None:
                if not await limiter.try_acquire_async(KEY):
                    # Only when a weight can never fit (1 > limit): impossible for limit >= 1.
                    raise RuntimeError(f"pyrate refused {KEY!r} for good")
                await send(job)

            try:
                await for_each(jobs, one)
            finally:
                limiter.dispose(bucket)  # stops the leaker (thread or task) for this bucket
                limiter.close()  # closes the bucket (the SQLite connection) before its file goes
                cleanup()


class PyrateMemory(_Pyrate):
    """``Limiter(InMemoryBucket([Rate(L, W) per declared tier]), buffer_ms=0)`` with ``try_acquire_async``.

    Clumps of ``L`` every ``W + 1 ms``, one waiter at a time in FIFO order; never more than ``L`` in
    any window of any declared tier.

        >>> from bench.dryrun import send_times
        >>> from strategies.base import Quota
        >>> send_times(PyrateMemory(Quota((Tier(2, 1.0),))), jobs=5)
        [0.0, 0.0, 1.001, 1.001, 2.002]
    """

    name = "pyrate-memory"
    description = "pyrate-limiter v4 in-memory sliding log, one Rate per tier, buffer_ms=0: clumps of L"

    def _bucket(self, rates: list[Rate], workdir: Path) -> AbstractBucket:
        return InMemoryBucket(rates)


class PyrateMemoryBuffered(PyrateMemory):
    """:class:`PyrateMemory` with pyrate's own default ``buffer_ms=50``: every wait 50 ms longer.

    We normalise ``buffer_ms`` to 0 so that limiters compare at the declared rate; this variant
    shows what that margin buys on a real network, where a clump released at the window edge reaches
    the server a few milliseconds after the limiter's window opened.
    """

    name = "pyrate-memory-buffered"
    description = "pyrate-limiter v4 in-memory sliding log with its default buffer_ms=50 (a margin per wait)"
    params = (replace(BUFFER_MS, default=50),)
    buffer_ms = 50


class PyrateSqlite(_Pyrate):
    """``Limiter(SQLiteBucket(...), buffer_ms=0)``: as :class:`PyrateMemory`, state in a SQLite file.

    The file lives in a temporary directory for the run. On a real loop every bucket call runs on
    one worker thread, so SQLite's I/O never blocks the event loop (see the module doc).
    """

    name = "pyrate-sqlite"
    description = "pyrate-limiter v4 SQLite sliding log (temp file, I/O off the loop), one Rate per tier"
    #: Run SQLite on a worker thread so its commits never freeze the event loop.
    offload_io: ClassVar[bool] = True

    def _bucket(self, rates: list[Rate], workdir: Path) -> AbstractBucket:
        bucket: AbstractBucket = SQLiteBucket.init_from_file(
            rates, table="ratebench", db_path=str(workdir / "pyrate.sqlite")
        )
        return bucket

    async def _open(self, rates: list[Rate], workdir: Path) -> tuple[AbstractBucket, Callable[[], None]]:
        loop = asyncio.get_running_loop()
        if not self.offload_io:
            return self._bucket(rates, workdir), lambda: None
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyrate-sqlite")
        # Creating the file and table commits too: off the loop as well.
        inner = await loop.run_in_executor(executor, self._bucket, rates, workdir)
        return _Offloaded(inner, executor), executor.shutdown
