"""The harness takes control back: every run on an event loop of its own, watched from the main thread.

A strategy is code we do not control. One that swallows ``CancelledError`` defeats ``asyncio.wait_for``
(it cancels, then waits for ever), a blocking ``time.sleep`` freezes the loop and every timer on it,
and ``SystemExit`` raised in a task escapes the loop altogether. So :func:`run` runs one
``run_one(...)`` on a fresh event loop (a :class:`~bench.clock.VirtualEventLoop` in virtual mode) in
a worker thread, and the calling thread watches it on the real clock:

- ``run_one``'s own ``wait_for`` cancels the strategy at ``timeout_s`` (loop time) — step one;
- if the strategy is still running ``grace_s`` later (a timer on its loop, and in real mode a real
  deadline as well), or the loop has stopped moving (virtual mode: its clock stands still for
  ``stall_s`` real seconds; real mode: the deadline passes), the watchdog stops that loop and, if the
  loop is blocked, abandons its thread (a daemon) — step two. The run is recorded ``timeout``;
- a ``BaseException`` out of the run (``SystemExit``, ``KeyboardInterrupt`` raised by a strategy,
  anything ``run_one`` did not catch) is a ``failed`` run, not a dead benchmark — except the mock
  server's own failure (``ServerError``), which is re-raised: it ends the benchmark, no strategy is to blame;
- a signal in the calling thread (``KeyboardInterrupt``) stops the run in progress and raises
  :class:`Interrupted` holding what it measured, marked ``interrupted``.

Runs that the watchdog had to end are rebuilt from its own records of every ``send`` (stamped around
the harness's ``send``, on the same loop clock) and the server's log; their oracle-based efficiency
and CPU figures are withheld. A strategy is also held to the seam: ``client_limits`` must be an
``httpx.Limits`` (or ``None``) with sane values, and ``send`` accepts only jobs the workload released.

    >>> from bench import scenarios
    >>> from bench.runner import run_one
    >>> from bench.transport import AsgiServer
    >>> from strategies.registry import resolve
    >>> out = run(run_one, resolve("unlimited"), scenarios.load("default"), AsgiServer(), virtual=True)
    >>> out.result.status, out.abandoned
    ('ok', False)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import threading
import time
from array import array
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from bench import clock, compliance, metrics
from bench.columns import ArrivalColumns, AttemptColumns, Tries
from bench.records import CANCELLED, TRANSPORT_ERROR
from bench.request_ids import request_id
from bench.runner import RUN_TAG, RunResult, join
from bench.scenarios import Scenario
from bench.transport import Server, ServerError
from mock_server import ticks
from strategies.base import Job, JobDropped, Jobs, Send, Strategy, Tier

__all__ = ["LIMITS", "Interrupted", "Limits", "Outcome", "UnreleasedJob", "check_client_limits", "run"]

RunOne = Callable[[type[Strategy], Scenario, Server, int], Coroutine[Any, Any, RunResult]]


@dataclass(frozen=True)
class Limits:
    """How long the watchdog waits, in real seconds unless said otherwise."""

    #: After ``timeout_s``, how long a cancelled strategy may take to stop (loop time; real mode: also real).
    grace_s: float = 5.0
    #: Reset and construction, before the strategy starts.
    setup_s: float = 60.0
    #: After the strategy: reading the server's log and computing the metrics.
    teardown_s: float = 300.0
    #: Virtual mode: the virtual clock standing still this long while the strategy runs = a blocked loop.
    stall_s: float = 60.0
    #: After stopping a loop, how long to wait for its thread before abandoning it.
    join_s: float = 2.0


#: What :func:`run` uses when given no ``limits`` (tests shorten it).
LIMITS = Limits()
#: Loops the watchdog had to stop or abandon, kept referenced: collecting a strategy's coroutine that
#: swallows everything (a bare ``except``) would spin for ever in whichever thread ran the collection.
#: ``python -m bench`` exits without finalising them when this is not empty.
ABANDONED: list[tuple[asyncio.AbstractEventLoop, set[asyncio.Task[Any]]]] = []


@dataclass(frozen=True)
class Outcome:
    result: RunResult
    #: The run's thread did not stop (a blocked loop): it lives on as a daemon and may still send.
    abandoned: bool


class Interrupted(Exception):
    """A signal ended the benchmark during a run; ``partial`` is what that run measured."""

    def __init__(self, partial: RunResult) -> None:
        super().__init__(partial.error)
        self.partial = partial


class UnreleasedJob(ValueError):
    """A strategy passed ``send`` a job the workload never released (or a forged copy of one)."""


def _wall() -> float:
    # The real clock even while a virtual run in another thread has patched time.monotonic.
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def check_client_limits(value: object) -> None:
    """Raise ``TypeError``/``ValueError`` naming the field unless ``value`` is ``None`` or sane ``httpx.Limits``.

    >>> check_client_limits(httpx.Limits(max_connections=0))
    Traceback (most recent call last):
    ...
    ValueError: client_limits.max_connections: must be None or an integer >= 1, got 0
    """
    if value is None:
        return
    if not isinstance(value, httpx.Limits):
        raise TypeError(f"client_limits: must be httpx.Limits or None, got {value!r}")
    for name, minimum in (("max_connections", 1), ("max_keepalive_connections", 0)):
        v = getattr(value, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < minimum):
            raise ValueError(f"client_limits.{name}: must be None or an integer >= {minimum}, got {v!r}")
    e = value.keepalive_expiry
    if e is not None and (isinstance(e, bool) or not isinstance(e, int | float) or not math.isfinite(e) or e < 0):
        raise ValueError(f"client_limits.keepalive_expiry: must be None or a finite number >= 0, got {e!r}")


class _Released:
    """The jobs the workload released, as ``send`` checks them (a :class:`Job` compares by id, release and
    cost): packed by id (the workload releases 0, 1, 2, …), 16 bytes a job rather than a kept ``Job``."""

    def __init__(self) -> None:
        self._release_s, self._cost = array("d"), array("q")
        self._other: dict[int, Job] = {}  # a job released out of order (not the harness's own workload)

    def add(self, job: Job) -> None:
        if job.id == len(self._release_s) and job.id not in self._other:
            self._release_s.append(job.release_s)
            self._cost.append(job.cost)
        else:
            self._other[job.id] = job

    def has(self, job: Job) -> bool:
        if 0 <= job.id < len(self._release_s) and job.id not in self._other:
            return self._release_s[job.id] == job.release_s and self._cost[job.id] == job.cost
        return bool(self._other.get(job.id) == job)


@dataclass
class _Watch:
    """What the run's thread tells the watchdog; written by that thread, read under the GIL."""

    grace_s: float
    timeout_s: float
    changed: threading.Event = field(default_factory=threading.Event)
    phase: str = "setup"  # → "strategy" → "teardown" → "done"
    since: float = field(default_factory=_wall)
    loop: asyncio.AbstractEventLoop | None = None
    t0: float | None = None  # loop time when the strategy started
    t_end: float | None = None  # loop time when it returned or raised
    swallowed: bool = False  # returned normally although cancelled
    overdue: bool = False
    result: RunResult | None = None
    crash: BaseException | None = None
    released: _Released = field(default_factory=lambda: _Released())
    tries: Tries = field(default_factory=Tries)
    attempts: AttemptColumns = field(default_factory=AttemptColumns)  # bench.columns: bytes, not records
    in_flight: dict[int, tuple[Job, int, float]] = field(default_factory=dict)
    keys: Iterator[int] = field(default_factory=itertools.count)
    tag: str = ""  # the runner's request-id tag for this run (runner.RUN_TAG), read when the strategy starts

    def set_phase(self, phase: str) -> None:
        self.phase, self.since = phase, _wall()
        self.changed.set()

    def strategy_started(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.t0 = loop, loop.time()
        self.set_phase("strategy")
        # Step two's trigger on the loop's own clock: the cancel at timeout_s did not end the strategy.
        loop.call_at(self.t0 + self.timeout_s + self.grace_s, self._overdue)

    def _overdue(self) -> None:
        self.overdue = True
        self.changed.set()

    def jobs(self, inner: Jobs) -> Jobs:
        async def watched() -> AsyncIterator[Job]:
            async for job in inner:
                self.released.add(job)
                yield job

        return watched()

    def send(self, inner: Send, loop: asyncio.AbstractEventLoop) -> Send:
        assert self.t0 is not None
        t0 = self.t0

        async def send(job: Job) -> httpx.Response:
            if not isinstance(job, Job) or not self.released.has(job):
                raise UnreleasedJob(f"send({job!r}): the workload never released this job")
            n = self.tries.next(job.id)
            sent = loop.time() - t0
            key = next(self.keys)
            self.in_flight[key] = (job, n, sent)
            status: int | None = TRANSPORT_ERROR
            try:
                response = await inner(job)
                status = response.status_code
                return response
            except JobDropped:  # gave up before it was sent (a deadline, a cancellation): no attempt
                status = None
                raise
            except asyncio.CancelledError:
                status = CANCELLED
                raise
            finally:
                del self.in_flight[key]
                if status is not None:
                    self.attempts.append(job.id, n, job.release_s, sent, loop.time() - t0, status)

        return send


def _watched(cls: type[Strategy], watch: _Watch) -> type[Strategy]:
    """``cls`` with its seam checked and its run observed; name, description and behaviour unchanged."""

    class Watched(cls):  # type: ignore[valid-type,misc]
        def __init__(self, quota: Any) -> None:
            super().__init__(quota)
            check_client_limits(self.client_limits)

        async def run(self, jobs: Jobs, send: Send) -> None:
            loop = asyncio.get_running_loop()
            watch.tag = RUN_TAG.get()
            watch.strategy_started(loop)
            try:
                await super().run(watch.jobs(jobs), watch.send(send, loop))
                task = asyncio.current_task()
                # Returned normally with a cancellation pending: it swallowed wait_for's cancel at timeout_s.
                watch.swallowed = task is not None and task.cancelling() > 0
            finally:
                watch.t_end = loop.time()
                watch.set_phase("teardown")

    Watched.__name__, Watched.__qualname__ = cls.__name__, cls.__qualname__
    return Watched


def _describe(e: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception_only(e)).strip()


def _close(loop: asyncio.AbstractEventLoop, grace_s: float) -> None:
    """Like ``asyncio.Runner.close``, but a task that ignores cancellation gets ``grace_s``, not for ever."""
    try:
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=grace_s))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


def _thread_main(make: Callable[[], Coroutine[Any, Any, RunResult]], watch: _Watch, virtual: bool,
                 grace_s: float, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> None:
    if loop_factory is not None:
        loop = loop_factory()
    else:
        loop = clock.VirtualEventLoop() if virtual else asyncio.new_event_loop()
    watch.loop = loop
    stopped = False
    try:
        asyncio.set_event_loop(loop)
        with clock.patch_time(loop) if virtual else contextlib.nullcontext():
            try:
                watch.result = loop.run_until_complete(make())
            except BaseException as e:  # SystemExit from a strategy is a row, not an exit
                watch.crash = e
                stopped = True  # the loop was left mid-run: its tasks are not cleaned up, only kept
                ABANDONED.append((loop, asyncio.all_tasks(loop)))
            if not stopped:
                _close(loop, grace_s)
            else:
                loop.close()
    except BaseException as e:  # clean-up trouble: keep what run_one returned
        if watch.crash is None and watch.result is None:
            watch.crash = e
    finally:
        asyncio.set_event_loop(None)
        watch.set_phase("done")


def run(run_one: RunOne, strategy_cls: type[Strategy], scenario: Scenario, server: Server, repeat: int = 0, *,
        virtual: bool, limits: Limits | None = None,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> Outcome:
    """``run_one(strategy_cls, scenario, server, repeat)`` in a thread of its own, on a fresh loop, watched.

    Returns the run's result (``ok``/``timeout``/``failed`` as ``run_one`` reports it, or ``timeout``/
    ``failed`` when the watchdog had to step in). Raises :class:`Interrupted` on ``KeyboardInterrupt``
    in the calling thread (a signal), after stopping the run and salvaging what it measured.
    ``loop_factory`` makes the run's loop (default: a plain :class:`~bench.clock.VirtualEventLoop` when
    ``virtual``, else a new asyncio loop), e.g. one with modelled timer lateness (:mod:`bench.netmodel`).
    """
    limits = limits or LIMITS
    watch = _Watch(limits.grace_s, scenario.timeout_s)
    cls = _watched(strategy_cls, watch)
    thread = threading.Thread(target=_thread_main, name=f"run-{strategy_cls.name}-{repeat}", daemon=True,
                              args=(lambda: run_one(cls, scenario, server, repeat), watch, virtual, limits.grace_s,
                                    loop_factory))
    started = _wall()
    try:
        thread.start()  # inside: a fast run may signal before start() returns here
        reason = _watch_until_done(watch, virtual, scenario.timeout_s, limits)
        if reason is None:
            thread.join()
    except KeyboardInterrupt:
        _stop(watch, thread, limits.join_s)
        partial = _salvage(strategy_cls, scenario, server, repeat, watch, started, "interrupted",
                           "interrupted by a signal: the run was stopped and is partial")
        raise Interrupted(partial) from None
    if reason is None:
        r = watch.result
        if r is not None:
            late = (watch.t_end - watch.t0 - scenario.timeout_s) if watch.t_end is not None and watch.t0 is not None \
                else 0.0
            if r.status == "ok" and watch.swallowed:
                # wait_for returns the result of a strategy that swallowed its cancellation and finished anyway.
                r = replace(r, status="timeout", error=f"ignored its cancellation at {scenario.timeout_s:g} s and "
                                                       f"finished {max(late, 0.0):.3g} s later")
            return Outcome(r, False)
        crash = watch.crash
        assert crash is not None
        if isinstance(crash, ServerError):
            raise crash  # the harness's own server failed (reset, log): no strategy is to blame, stop the benchmark
        return Outcome(_salvage(strategy_cls, scenario, server, repeat, watch, started, "failed",
                                f"{_describe(crash)} (raised during the run; isolated)"), False)
    abandoned = _stop(watch, thread, limits.join_s)
    note = f"{reason}; its thread was abandoned" if abandoned else reason
    return Outcome(_salvage(strategy_cls, scenario, server, repeat, watch, started, "timeout", note), abandoned)


def _watch_until_done(watch: _Watch, virtual: bool, timeout_s: float, limits: Limits) -> str | None:
    """Wait (really) until the run's thread is done; the reason to step in if it must be ended."""
    last_virtual, moved_at = -1.0, _wall()
    while True:
        watch.changed.clear()
        now = _wall()
        phase = watch.phase
        if phase == "done":
            return None
        if watch.overdue:
            return (f"did not stop within {limits.grace_s:g} s after its {timeout_s:g} s timeout "
                    "(it ignores cancellation)")
        if phase == "setup":
            deadline, why = watch.since + limits.setup_s, f"did not start within {limits.setup_s:g} s"
        elif phase == "teardown":
            deadline, why = watch.since + limits.teardown_s, f"run did not finish {limits.teardown_s:g} s " \
                                                              "after the strategy"
        elif virtual:
            loop = watch.loop
            v = loop.time() if loop is not None else 0.0
            if v != last_virtual:
                last_virtual, moved_at = v, now
            deadline, why = moved_at + limits.stall_s, (f"blocked its event loop (virtual clock stood still "
                                                        f"for {limits.stall_s:g} s)")
        else:
            deadline = watch.since + timeout_s + limits.grace_s + 1.0
            why = (f"did not stop within {limits.grace_s:g} s after its {timeout_s:g} s timeout "
                   "(it blocks the event loop or ignores cancellation)")
        if now >= deadline:
            return why
        watch.changed.wait(deadline - now)


def _stop(watch: _Watch, thread: threading.Thread, join_s: float) -> bool:
    """Stop the run's loop; ``True`` if its thread did not end (blocked), and is left behind."""
    loop = watch.loop
    if loop is not None and not loop.is_closed():
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            loop.call_soon_threadsafe(loop.stop)
    thread.join(join_s)
    if loop is not None:
        ABANDONED.append((loop, asyncio.all_tasks(loop)))
    if thread.is_alive():
        if loop is not None:
            clock.release_patch(loop)  # the rest of the process gets the real clock back
        return True
    return False


def _salvage(strategy_cls: type[Strategy], scenario: Scenario, server: Server, repeat: int, watch: _Watch,
             started: float, status: str, error: str) -> RunResult:
    """A result from the watchdog's own records and the server's log, for a run it had to end."""
    t0 = watch.t0
    cut = (watch.loop.time() - t0) if (watch.loop is not None and t0 is not None) else 0.0
    attempts = watch.attempts  # the run is over: its columns take the attempts still in flight, cut
    for job, n, sent in list(watch.in_flight.values()):
        attempts.append(job.id, n, job.release_s, sent, max(sent, cut), CANCELLED)
    arrivals: ArrivalColumns | None = None
    judge, t0_ns = None, 0
    if t0 is not None and watch.phase != "setup":
        try:
            log = asyncio.run(asyncio.wait_for(server.arrivals(), 30))
        except Exception as e:  # best effort: the client's records stand alone
            error += f"; server log not read ({_describe(e)}): burst metrics withheld"
        else:
            if log.complete:
                # The strategy's start on the server's clock, in its ticks (approximately the runner's t0).
                t0_ns = ticks.from_seconds(t0)
                arrivals = ArrivalColumns.of(log.arrivals)
                arrivals.shift(t0_ns)
                judge = compliance.judge(scenario.server, t0_ns)  # what the policy says of the part that ran
            else:
                error += "; server log incomplete: burst metrics withheld"
    # Request ids are bench.request_ids' "j<job>.<attempt>" plus, over a socket, the runner's per-run tag
    # (".<hex>"): an id with our job.attempt but another tag is someone else's request, as in runner.run_one.
    tag = watch.tag
    joined, foreign = join(attempts, watch.tries, arrivals if arrivals is not None else ArrivalColumns(),
                           lambda job, attempt: request_id(job, attempt, tag))
    # Burst metrics judge against what the server enforces, in each tier's unit (a token tier counts costs).
    enforced = tuple(Tier(q.limit, q.window_s, q.unit) for q in scenario.server.quota)
    m = metrics.compute(joined, arrivals, enforced, requests=scenario.workload.jobs, cpu_s=None,
                        oracle_makespan_s=None, rejected={429, scenario.server.headers.reject_status},
                        judge=judge, judge_origin_ns=t0_ns)
    return RunResult(str(strategy_cls.name), repeat, status, error, joined, arrivals or (), m, _wall() - started,
                     foreign, tag=tag)
