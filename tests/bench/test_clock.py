"""The virtual loop: exact jumps, no livelock on float residues, time patching, deadlock detection."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator

import aiolimiter
import aiometer
import pyrate_limiter.clocks
import pytest

from bench.clock import DeadlockError, VirtualEventLoop, patch_time, run

# Kept in a mapping, not as module attributes: patch_time would patch ``ORIGINAL = time.monotonic`` here too.
REAL = types.MappingProxyType(
    {"monotonic": time.monotonic, "time_ns": time.time_ns, "monotonic_ns": time.monotonic_ns}
)


@contextlib.contextmanager
def wall_deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging if the body spins (a livelocked loop never returns on its own)."""

    def expired(signum: int, frame: types.FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds} s of wall time: livelock?")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pyrate_clocks_attr() -> object:
    return getattr(pyrate_limiter.clocks, "monotonic_ns")  # noqa: B009 - not re-exported for mypy


def pyrate_clock_ns() -> int:
    fn = pyrate_clocks_attr()
    assert callable(fn)
    return int(fn())


def test_sleep_advances_virtual_time_exactly() -> None:
    loop = VirtualEventLoop()
    try:
        assert loop.time() == 0.0
        loop.run_until_complete(asyncio.sleep(1.5))
        assert loop.time() == 1.5
        assert loop.time_us == 1_500_000
    finally:
        loop.close()


def test_long_sleep_takes_no_wall_time() -> None:
    async def main() -> float:
        await asyncio.sleep(1000)
        return asyncio.get_running_loop().time()

    wall0 = REAL["monotonic"]()
    assert run(main()) == 1000.0
    # Virtual: far less real time than the 1000 s slept (the bound is loose so a loaded CI machine cannot flake it).
    assert REAL["monotonic"]() - wall0 < 30.0


def test_repeated_sleeps_stay_on_the_microsecond_grid() -> None:
    # 0.1 is not representable: a float clock would drift; an integer one lands on 0.3 exactly.
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualEventLoop)
        seen = []
        for _ in range(3):
            await asyncio.sleep(0.1)
            seen.append(loop.time_us)
        return seen

    assert run(main()) == [100_000, 200_000, 300_000]


def test_start_offsets_the_clock() -> None:
    async def main() -> float:
        await asyncio.sleep(2)
        return asyncio.get_running_loop().time()

    assert run(main(), start=100.0) == 102.0


def test_call_at_fires_in_time_order_at_the_exact_times() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, float]] = []
        done = loop.create_future()

        def fire(name: str) -> None:
            fired.append((name, loop.time()))

        for name, when in [("c", 3.0), ("a", 1.0), ("b", 2.0), ("a2", 1.000001)]:
            loop.call_at(when, fire, name)
        loop.call_at(3.5, done.set_result, None)
        await done
        return fired

    assert run(main()) == [("a", 1.0), ("a2", 1.000001), ("b", 2.0), ("c", 3.0)]


def test_timer_a_float_residue_ahead_fires_one_tick_later() -> None:
    """The looptime livelock: a timer re-armed at now + 1e-15 must fire, and time must move."""

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.3)
        fut = loop.create_future()
        loop.call_at(loop.time() + 1e-15, fut.set_result, None)
        await fut
        first = loop.time()
        # A limiter that keeps finding itself "just short" re-arms again and again: each re-arm costs a tick.
        for _ in range(100):
            fut = loop.create_future()
            loop.call_at(loop.time() + 1e-15, fut.set_result, None)
            await fut
        return first, loop.time()

    with wall_deadline(5):
        first, last = run(main())
    assert first == 0.300001
    assert last == pytest.approx(0.300101, abs=1e-9)


def test_aiolimiter_completes_under_the_virtual_loop() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = aiolimiter.AsyncLimiter(10, 1)
        grants: list[float] = []

        async def one() -> None:
            async with limiter:
                grants.append(loop.time())

        await asyncio.gather(*(one() for _ in range(30)))
        return grants

    with wall_deadline(5):
        grants = run(main())
    assert len(grants) == 30
    assert grants[:10] == [0.0] * 10
    # then one per 0.1 s, give or take the one-tick re-arms aiolimiter's float residues cause
    assert grants[10:] == pytest.approx([0.1 * k for k in range(1, 21)], abs=5e-6)


def test_aiometer_completes_under_the_virtual_loop() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        starts: list[float] = []

        async def job() -> None:
            starts.append(loop.time())

        await aiometer.run_all([job for _ in range(30)], max_per_second=10)
        return starts

    with wall_deadline(5):
        starts = run(main())
    assert len(starts) == 30
    # aiometer re-arms from "now", so each residue tick accumulates: ~1 µs per request here
    assert starts == pytest.approx([0.1 * k for k in range(30)], abs=1e-4)


def test_patch_time_tracks_the_loop_and_restores() -> None:
    seen: dict[str, float] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        t0, ns0, mono_ns0 = time.time(), time.time_ns(), time.monotonic_ns()
        assert time.monotonic() == loop.time() == 0.0
        await asyncio.sleep(2.5)
        seen["monotonic"] = time.monotonic()
        seen["perf_counter"] = time.perf_counter()
        seen["time"] = time.time() - t0
        seen["time_ns"] = time.time_ns() - ns0
        seen["monotonic_ns"] = time.monotonic_ns() - mono_ns0
        seen["perf_counter_ns"] = time.perf_counter_ns()
        # a name a library copied with ``from time import monotonic_ns`` follows too
        seen["pyrate"] = pyrate_clock_ns()
        # standard-library aliases keep real time (they time real blocking waits)
        seen["threading_real"] = float(threading._time is REAL["monotonic"])  # type: ignore[attr-defined]

    wall0 = time.time()
    run(main())
    assert seen == {
        "monotonic": 2.5,
        "perf_counter": 2.5,
        "time": pytest.approx(2.5, abs=1e-6),
        "time_ns": 2_500_000_000,
        "monotonic_ns": 2_500_000_000,
        "perf_counter_ns": 2_500_000_000,
        "pyrate": 2_500_000_000,
        "threading_real": 1.0,
    }
    assert time.monotonic is REAL["monotonic"]
    assert time.time_ns is REAL["time_ns"]
    assert pyrate_clocks_attr() is REAL["monotonic_ns"]
    assert abs(time.time() - wall0) < 60  # the wall clock is real again


def test_patch_time_epoch_is_the_wall_clock_at_entry() -> None:
    loop = VirtualEventLoop(start=10.0)
    try:
        before = time.time()
        with patch_time(loop):
            inside = time.time()
        assert before - 1 < inside < time.time() + 1
    finally:
        loop.close()


def test_copies_made_inside_the_patch_are_restored() -> None:
    loop = VirtualEventLoop()
    mod = types.ModuleType("late_import_probe")
    try:
        with patch_time(loop):
            sys.modules[mod.__name__] = mod
            vars(mod)["monotonic"] = time.monotonic  # what "from time import monotonic" does
            assert vars(mod)["monotonic"]() == 0.0
        assert vars(mod)["monotonic"] is REAL["monotonic"]
    finally:
        sys.modules.pop(mod.__name__, None)
        loop.close()


def test_patch_time_with_explicit_modules_only_touches_those() -> None:
    loop = VirtualEventLoop()
    chosen = types.ModuleType("chosen")
    vars(chosen)["monotonic_ns"] = REAL["monotonic_ns"]
    try:
        with patch_time(loop, modules=[chosen]):
            assert vars(chosen)["monotonic_ns"]() == 0
            assert pyrate_clocks_attr() is REAL["monotonic_ns"]
            assert time.monotonic() == 0.0
        assert vars(chosen)["monotonic_ns"] is REAL["monotonic_ns"]
    finally:
        loop.close()


def test_run_without_patch_leaves_time_alone() -> None:
    async def main() -> bool:
        return time.monotonic is REAL["monotonic"]

    assert run(main(), patch=False)


def test_deadlock_raises_instead_of_blocking() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()  # nothing will ever complete it

    with wall_deadline(5), pytest.raises(RuntimeError, match="virtual loop deadlock") as info:
        run(main())
    assert isinstance(info.value, DeadlockError)


def test_thread_work_is_waited_for_not_a_deadlock() -> None:
    async def main() -> float:
        await asyncio.to_thread(REAL["monotonic"])  # nothing scheduled while the thread runs
        await asyncio.sleep(1)
        return asyncio.get_running_loop().time()

    with wall_deadline(5):
        assert run(main()) == 1.0


def test_start_must_be_finite() -> None:
    with pytest.raises(ValueError, match="start"):
        VirtualEventLoop(start=float("nan"))
