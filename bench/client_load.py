"""Client load: a scenario blocks the strategy's event loop at given moments, or keeps it busy.

Real applications do other work on the loop a limiter runs on: a blocking call (a synchronous database
driver, a ``time.sleep``), a CPU-bound step. Limiters that schedule releases on the loop's clock react
to a late wake-up differently (asynciolimiter releases the missed slots in a clump of up to
``max_burst``; a strict limiter slips its schedule). A scenario's ``[load]`` table injects this into the
run's loop, beside the strategy::

    [load]
    stalls = [{at_s = 1.0, for_s = 1.0}]   # block the loop for 1 s, 1 s after run start
    busy_duty = 0.25                       # and keep it busy 25 % of every busy_period_s
    busy_period_s = 0.04

Each stall or busy slice is a loop callback scheduled at its moment (``loop.call_at``), so it runs
between the strategy's callbacks exactly as blocking code in one of them would. What "blocking" means:

- **real time**: a stall sleeps the thread (``time.sleep``: blocked, no CPU, like a synchronous I/O
  call) and a busy slice spins on the CPU until its time is up (like a CPU-bound step);
- **virtual time** (:class:`bench.clock.VirtualEventLoop`): both advance the virtual clock by their
  duration at once (:meth:`~bench.clock.VirtualEventLoop.advance`): to everything on the loop, time has
  passed and nothing ran meanwhile, as on a real blocked loop. The client's CPU cost is not modelled.

>>> ClientLoad.from_table({"stalls": [{"at_s": 1, "for_s": 0.5}]}).stalls
(Stall(at_s=1.0, for_s=0.5),)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from bench.clock import VirtualEventLoop
from mock_server.config import ConfigError, Table

__all__ = ["ClientLoad", "Stall"]


@dataclass(frozen=True, slots=True)
class Stall:
    """Block the loop for ``for_s`` seconds, ``at_s`` seconds after run start."""

    at_s: float
    for_s: float


def _block(loop: asyncio.AbstractEventLoop, seconds: float, spin: bool) -> None:
    if isinstance(loop, VirtualEventLoop):
        loop.advance(seconds)
        return
    # Deliberately blocking (the point of a client load): this is a loop callback, not a coroutine.
    now = time.clock_gettime(time.CLOCK_MONOTONIC)
    end = now + seconds
    if not spin:
        time.sleep(seconds)
        return
    while now < end:  # CPU-bound until the slice is over
        now = time.clock_gettime(time.CLOCK_MONOTONIC)


@dataclass(frozen=True)
class ClientLoad:
    """What the scenario's ``[load]`` asks: ``stalls``, and a CPU-bound share ``busy_duty`` (0 to < 1) of
    every ``busy_period_s`` from run start. ``ticker_s``: the loop-lag ticker's period
    (:mod:`bench.loop_lag`)."""

    stalls: tuple[Stall, ...] = ()
    busy_duty: float = 0.0
    busy_period_s: float = 0.1
    ticker_s: float = 0.01

    @classmethod
    def from_table(cls, data: Mapping[str, object], where: str = "load") -> ClientLoad:
        """From the scenario's ``[load]`` table; a ``ConfigError`` names the bad key."""
        t = Table(data, where, ("stalls", "busy_duty", "busy_period_s", "ticker_s"))
        stalls = []
        for item, at in t.tables("stalls"):
            s = Table(item, at, ("at_s", "for_s"))
            stalls.append(Stall(s.number("at_s"), s.number("for_s", strict=True)))
        duty = t.number("busy_duty", 0.0)
        if duty >= 1:
            raise ConfigError(f"{t.at('busy_duty')}: must be < 1 (a loop busy all the time runs nothing else), "
                              f"got {duty!r}")
        return cls(tuple(sorted(stalls, key=lambda s: s.at_s)), duty,
                   t.number("busy_period_s", 0.1, strict=True), t.number("ticker_s", 0.01, strict=True))

    def to_dict(self) -> dict[str, object]:
        return {"stalls": [{"at_s": s.at_s, "for_s": s.for_s} for s in self.stalls], "busy_duty": self.busy_duty,
                "busy_period_s": self.busy_period_s, "ticker_s": self.ticker_s}

    def start(self, loop: asyncio.AbstractEventLoop, t0: float) -> Applied:
        """Schedule the stalls and busy slices on ``loop`` from run start ``t0`` (loop time) until
        :meth:`Applied.stop`."""
        return Applied(self, loop, t0)


class Applied:
    """A :class:`ClientLoad` at work on one loop; :meth:`stop` cancels what is still scheduled.

    >>> from bench import clock
    >>> async def main() -> list[float]:
    ...     loop = asyncio.get_running_loop()
    ...     applied = ClientLoad((Stall(0.1, 1.0),)).start(loop, loop.time())
    ...     seen = []
    ...     for _ in range(3):
    ...         await asyncio.sleep(0.05)
    ...         seen.append(round(loop.time(), 3))
    ...     applied.stop()
    ...     return seen
    >>> clock.run(main())  # the stall at 0.1 s runs first and holds the loop until 1.1 s
    [0.05, 1.1, 1.15]
    """

    def __init__(self, load: ClientLoad, loop: asyncio.AbstractEventLoop, t0: float) -> None:
        self._load, self._loop, self._t0 = load, loop, t0
        self._handles = [loop.call_at(t0 + s.at_s, _block, loop, s.for_s, False) for s in load.stalls]
        self._busy: asyncio.TimerHandle | None = None
        self._k = 0
        if load.busy_duty > 0:
            self._busy = loop.call_at(t0, self._slice)

    def _slice(self) -> None:
        period = self._load.busy_period_s
        _block(self._loop, self._load.busy_duty * period, True)
        self._k += 1
        # On the period grid from t0 (no drift); a slice that overran skips the periods it ate.
        nxt = self._t0 + self._k * period
        now = self._loop.time()
        if nxt < now:
            self._k = int((now - self._t0) // period) + 1
            nxt = self._t0 + self._k * period
        self._busy = self._loop.call_at(nxt, self._slice)

    def stop(self) -> None:
        for h in self._handles:
            h.cancel()
        if self._busy is not None:
            self._busy.cancel()
            self._busy = None
