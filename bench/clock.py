"""Virtual time: an asyncio loop whose clock jumps to the next timer, and patching ``time`` to follow it.

:class:`VirtualEventLoop` keeps time as an **integer count of microseconds**. Whenever nothing is ready
to run, it advances its clock straight to the earliest scheduled timer (at least one microsecond), so
an hour of ``asyncio.sleep`` takes milliseconds of wall time and every run is deterministic::

    >>> import asyncio
    >>> async def main() -> float:
    ...     await asyncio.sleep(3600)
    ...     return asyncio.get_running_loop().time()
    >>> run(main())
    3600.0

Why integers, and why "at least one tick": a limiter that computes its next wake-up from floats can
re-arm a timer at ``now + 1e-15``. A loop that advances by exactly the timeout (``looptime``) then
never moves far enough for the timer to be due and spins for ever. Here the clock moves
to the next microsecond at or after the timer, so the timer fires and the limiter sees time pass.

Libraries that read ``time.monotonic()`` (or ``time_ns``, …) rather than the loop clock follow it
under :func:`patch_time`, which :func:`run` applies by default.

Virtual mode is for in-process work (ASGI transport, pure-Python limiters): the loop never waits for
real socket I/O while a timer is pending, it jumps. Work handed to a thread via ``run_in_executor`` /
``asyncio.to_thread`` is waited for in real time only when nothing else is scheduled.

Late timers, as a real loop's: given a timer model (``bench.netmodel.TimerModel``), the loop sleeps as
a real one does, for the timeout rounded up to the selector's unit (epoll: whole milliseconds) plus a
sampled slack, so callbacks run late by a seeded, measured amount, in due order. Waits that stand for
socket I/O (:func:`io_sleep`, used by the in-process transport for network delays) end exactly on
time and wake the loop early, as a readable socket wakes ``epoll_wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import math
import selectors
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, TypeVarTuple, Unpack

if TYPE_CHECKING:
    from bench.netmodel import TimerModel

__all__ = ["TICK_S", "Clock", "DeadlockError", "VirtualEventLoop", "io_sleep", "loop_ns", "patch_time", "release_patch",
           "run"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

#: One tick of the virtual clock, in seconds.
TICK_S = 1e-6
# A target within this many microseconds above a grid point rounds down to it: ``0.3 * 1e6`` is
# ``300000.00000000006``, and the timer due "at 0.3" must fire at 300000 µs, not 300001 µs.
_GRID_SLACK_US = 1e-3
#: Turns in a row with only an already-due timer at one instant before the clock is nudged a tick.
_SPIN_LIMIT = 3

_TIME_NAMES = ("monotonic", "perf_counter", "time", "monotonic_ns", "perf_counter_ns", "time_ns")
# Per patched loop, how to undo its patch: :func:`release_patch` needs it when the loop's thread is stuck.
_RESTORERS: dict[int, Callable[[], None]] = {}
_RESTORERS_LOCK = threading.Lock()


class Clock(Protocol):
    """Anything with a ``time()`` in seconds: a running loop, or a test double."""

    def time(self) -> float: ...


class DeadlockError(RuntimeError):
    """Nothing is ready, nothing is scheduled, no thread is working: the run can never finish."""


class _VirtualSelector(selectors.BaseSelector):
    """Delegates to a real selector; on a positive timeout, advances the loop's clock instead of waiting."""

    def __init__(self, real: selectors.BaseSelector, loop: VirtualEventLoop) -> None:
        self._real = real
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = self._real.select(0)
        if events:
            return events
        if timeout == 0:
            if not self._loop._ready:  # type: ignore[attr-defined]
                self._loop._spin_guard()
            return events
        if self._loop._threads_busy:
            # Work handed to a thread takes no virtual time: wait (really) for it to post its result
            # through the self-pipe rather than jump the clock meanwhile, so runs stay deterministic.
            return self._real.select(None)
        if timeout is None:
            raise DeadlockError(
                "virtual loop deadlock: nothing scheduled, nothing ready and no thread working "
                "(a task awaits something that nothing will ever complete)"
            )
        self._loop._advance(timeout)
        return []


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock of integer microseconds that jumps to the next timer.

    ``time()`` is ``microseconds / 1e6``. When no callback is ready, the loop polls its real selector
    (without waiting) and, if nothing arrived, moves its clock to the earliest timer, rounded up to
    the microsecond grid and by at least one microsecond. If nothing is scheduled at all it raises
    :class:`DeadlockError` (a ``RuntimeError``) instead of blocking for ever.

        >>> loop = VirtualEventLoop()
        >>> loop.run_until_complete(asyncio.sleep(1.5))
        >>> loop.time()
        1.5
        >>> loop.close()
    """

    def __init__(self, start: float = 0.0, timers: TimerModel | None = None) -> None:
        self._us = 0
        self._threads_busy = 0
        self._timers = timers
        self._io: list[tuple[int, int, asyncio.TimerHandle]] = []  # heap of pending I/O waits (µs, seq, handle)
        self._io_seq = 0
        self._spin_at, self._spins = -1, 0
        real = selectors.DefaultSelector()
        super().__init__(real)
        if not (math.isfinite(start) and start >= 0):
            self.close()
            raise ValueError(f"start must be a finite, non-negative time, got {start!r}")
        self._us = round(start * 1e6)
        # Swap in the wrapper after the base class registered its self-pipe on the real selector.
        self._selector: selectors.BaseSelector = _VirtualSelector(real, self)
        # Timers due within one tick of "now" are run now (asyncio's end_time = time() + resolution).
        self._clock_resolution = TICK_S

    def time(self) -> float:
        """Virtual seconds since the loop's epoch (0.0 unless ``start`` was given)."""
        return self._us / 1e6

    @property
    def time_us(self) -> int:
        """The virtual clock as an exact integer count of microseconds."""
        return self._us

    def advance(self, seconds: float) -> None:
        """Move the clock forward now, as a real clock moves while a callback blocks the loop.

        Tests use it to model a stalled loop (a CPU-bound callback, a blocking call) from inside it.
        """
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a finite, non-negative number, got {seconds!r}")
        self._us += round(seconds * 1e6)

    def _spin_guard(self) -> None:
        """Called when the only work is a timer already due. A limiter that re-arms its timer at "now"
        (aiolimiter does, when a float residue of ~1e-16 s leaves it just short of capacity and
        ``now + 1e-16 == now``) would spin for ever on a clock that never moves by itself; a real
        clock would have moved on. After a few such turns at the same instant, move one tick."""
        if self._spin_at == self._us:
            self._spins += 1
            if self._spins >= _SPIN_LIMIT:
                self._us += 1
                self._spins = 0
        else:
            self._spin_at, self._spins = self._us, 1

    @staticmethod
    def _to_us(t: float) -> int:
        return math.ceil(t * 1e6 - _GRID_SLACK_US)

    def _advance(self, timeout: float) -> None:
        """Move the clock to the first tick at or after ``time() + timeout``, and by at least one tick.

        With a timer model, a wait for a timer lasts as long as a real selector's would (rounded up,
        plus slack), unless an I/O wait ends first: that one ends on time and wakes the loop.
        """
        due_us = max(self._us + 1, self._to_us(self._us / 1e6 + timeout))
        if self._timers is not None:
            io_us = self._next_io_us()
            if io_us is None or io_us > due_us:
                wake_us = self._us + self._timers.sleep_us(due_us - self._us)
                due_us = wake_us if io_us is None else min(wake_us, io_us)
        self._us = due_us

    def _next_io_us(self) -> int | None:
        while self._io and (self._io[0][2].cancelled() or self._io[0][0] <= self._us):
            heapq.heappop(self._io)
        return self._io[0][0] if self._io else None

    def call_io_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        """``call_at`` for the end of a socket wait: never made late by the timer model, and it
        wakes the loop from a (modelled) selector sleep at its due time."""
        handle = self.call_at(when, callback)
        self._io_seq += 1
        heapq.heappush(self._io, (self._to_us(when), self._io_seq, handle))
        return handle

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[Unpack[_Ts]], _T], *args: *_Ts
    ) -> asyncio.Future[_T]:
        fut = super().run_in_executor(executor, func, *args)
        self._threads_busy += 1
        fut.add_done_callback(self._thread_done)
        return fut

    def _thread_done(self, _fut: object) -> None:
        self._threads_busy -= 1

    async def shutdown_default_executor(self) -> None:
        self._threads_busy += 1
        try:
            await super().shutdown_default_executor()
        finally:
            self._threads_busy -= 1


async def io_sleep(seconds: float) -> None:
    """Wait ``seconds`` as for a socket: on a :class:`VirtualEventLoop`, exactly (no timer lateness);
    on any other loop, ``asyncio.sleep``.

        >>> async def leg() -> float:
        ...     await io_sleep(0.0004)
        ...     return asyncio.get_running_loop().time()
        >>> run(leg())
        0.0004
    """
    loop = asyncio.get_running_loop()
    if not isinstance(loop, VirtualEventLoop):
        await asyncio.sleep(seconds)
        return
    if seconds <= 0:
        return
    fut: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not fut.done():
            fut.set_result(None)

    handle = loop.call_io_at(loop.time() + seconds, wake)
    try:
        await fut
    finally:
        handle.cancel()


def run(coro: Coroutine[Any, Any, _T], *, patch: bool = True, start: float = 0.0,
        timers: TimerModel | None = None, loop_factory: Callable[[], VirtualEventLoop] | None = None) -> _T:
    """Run ``coro`` to completion on a fresh :class:`VirtualEventLoop` and close the loop.

    Like :func:`asyncio.run` (remaining tasks are cancelled, async generators and the default executor
    shut down). With ``patch=True`` the ``time`` module follows the loop (:func:`patch_time`). With
    ``timers`` (a ``bench.netmodel.TimerModel``) timers fire late as on a real loop; ``loop_factory``, if
    given, makes the loop instead (``start`` and ``timers`` are then its business).

        >>> async def nap() -> float:
        ...     t0 = time.monotonic()
        ...     await asyncio.sleep(90)
        ...     return time.monotonic() - t0
        >>> run(nap())
        90.0
    """
    with asyncio.Runner(loop_factory=loop_factory or functools.partial(VirtualEventLoop, start, timers)) as runner:
        loop = runner.get_loop()
        with patch_time(loop) if patch else contextlib.nullcontext():
            try:
                return runner.run(coro)
            finally:
                runner.close()  # inside the patch: cancelled tasks may still read the clock


def _is_stdlib(name: str) -> bool:
    return name.partition(".")[0] in sys.stdlib_module_names


@contextlib.contextmanager
def patch_time(
    loop: asyncio.AbstractEventLoop, modules: Iterable[ModuleType] | None = None
) -> Iterator[None]:
    """Make ``time.monotonic/perf_counter/time`` and their ``_ns`` forms read ``loop``'s clock.

    ``time()``/``time_ns()`` return the wall clock's whole second at entry plus the virtual time elapsed.
    Names a library copied with ``from time import monotonic_ns`` are patched too: every module in
    ``modules`` (default: every loaded non-standard-library module, e.g. ``pyrate_limiter.clocks``)
    whose attribute *is* one of the original functions. Standard-library aliases (``threading``,
    ``queue``, …) are left alone: they time real blocking waits. Everything is restored on exit,
    including copies made by modules first imported inside the block. (Your own module-level
    ``REAL = time.monotonic`` is a copy like any other: keep such references in a container.)

        >>> loop = VirtualEventLoop(start=5.0)
        >>> with patch_time(loop):
        ...     time.monotonic()
        5.0
        >>> loop.close()
    """
    originals: dict[str, Callable[[], Any]] = {n: getattr(time, n) for n in _TIME_NAMES}
    loop_time = loop.time

    if isinstance(loop, VirtualEventLoop):
        virtual_loop = loop

        def virtual_ns() -> int:
            return virtual_loop.time_us * 1000

    else:

        def virtual_ns() -> int:
            return round(loop_time() * 1e9)

    # Anchored on a whole wall-clock second: epoch resets and HTTP dates are whole seconds, so a
    # fractional anchor would make their rounding, and so a run's timeline, vary from run to run.
    epoch_ns: int = (time.time_ns() // 1_000_000_000) * 1_000_000_000 - virtual_ns()
    epoch_s = epoch_ns / 1e9

    # One distinct function per name, so that restoring maps each fake back to exactly one original.
    def monotonic() -> float:
        return loop_time()

    def perf_counter() -> float:
        return loop_time()

    def wall() -> float:
        return epoch_s + loop_time()

    def monotonic_ns() -> int:
        return virtual_ns()

    def perf_counter_ns() -> int:
        return virtual_ns()

    def wall_ns() -> int:
        return epoch_ns + virtual_ns()

    fakes: dict[str, Callable[[], Any]] = {
        "monotonic": monotonic,
        "perf_counter": perf_counter,
        "time": wall,
        "monotonic_ns": monotonic_ns,
        "perf_counter_ns": perf_counter_ns,
        "time_ns": wall_ns,
    }

    def scan() -> Iterator[dict[str, Any]]:
        if modules is not None:
            mods = list(modules)
        else:
            mods = [
                m for n, m in list(sys.modules.items()) if isinstance(m, ModuleType) and not _is_stdlib(n)
            ]
        for mod in mods:
            namespace = getattr(mod, "__dict__", None)
            if isinstance(namespace, dict):
                yield namespace

    def swap(pairs: Iterable[tuple[Callable[[], Any], Callable[[], Any]]]) -> None:
        table = {id(old): (old, new) for old, new in pairs}
        for namespace in scan():
            for attr, value in list(namespace.items()):
                hit = table.get(id(value))
                if hit is not None and hit[0] is value:
                    namespace[attr] = hit[1]

    restored = threading.Lock()

    def restore() -> None:
        if not restored.acquire(blocking=False):
            return  # already undone (by release_patch from another thread, or by this block's exit)
        for n in _TIME_NAMES:
            setattr(time, n, originals[n])
        swap((fakes[n], originals[n]) for n in _TIME_NAMES)

    for n in _TIME_NAMES:
        setattr(time, n, fakes[n])
    swap((originals[n], fakes[n]) for n in _TIME_NAMES)
    with _RESTORERS_LOCK:
        _RESTORERS[id(loop)] = restore
    try:
        yield
    finally:
        with _RESTORERS_LOCK:
            if _RESTORERS.get(id(loop)) is restore:
                del _RESTORERS[id(loop)]
        restore()


def release_patch(loop: asyncio.AbstractEventLoop) -> bool:
    """Undo :func:`patch_time` for ``loop`` from any thread; ``False`` if it was not patched.

    For a watchdog that abandons a loop whose thread is stuck (a blocking ``time.sleep`` in a
    strategy): that thread never reaches the ``with`` block's exit, and the rest of the process must
    get the real clock back.

        >>> loop = VirtualEventLoop(start=5.0)
        >>> with patch_time(loop):
        ...     release_patch(loop), time.monotonic() == 5.0
        (True, False)
        >>> loop.close()
    """
    with _RESTORERS_LOCK:
        restore = _RESTORERS.pop(id(loop), None)
    if restore is None:
        return False
    restore()
    return True


def loop_ns(loop: asyncio.AbstractEventLoop) -> Callable[[], int]:
    """``loop``'s clock as integer nanoseconds: the one clock the in-process mock server and the runner's
    run start share. On a :class:`VirtualEventLoop` it is exact (its microseconds × 1000); on any other
    loop it is ``time.monotonic_ns``, the clock asyncio's ``loop.time()`` reads.

        >>> loop = VirtualEventLoop(start=2.5)
        >>> loop_ns(loop)()
        2500000000
        >>> loop.close()
    """
    if isinstance(loop, VirtualEventLoop):
        virtual = loop
        return lambda: virtual.time_us * 1000
    return time.monotonic_ns
