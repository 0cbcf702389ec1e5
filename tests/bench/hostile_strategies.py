"""Strategies that misbehave on purpose, for the watchdog and input tests (not collected: no ``test_``)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import httpx

from strategies.base import Job, Jobs, Send, Strategy

#: A file the blocking strategies touch once they run (subprocess tests wait for it).
READY_ENV = "RATEBENCH_TEST_READY"


def _ready() -> None:
    path = os.environ.get(READY_ENV)
    if path:
        Path(path).write_text("running")


async def _first(jobs: Jobs, send: Send, n: int = 1) -> None:
    k = 0
    async for job in jobs:
        await send(job)
        k += 1
        if k == n:
            return


class Swallower(Strategy):
    """Sends one job, then a retry loop whose bare ``except`` swallows the cancellation."""

    name = "swallower"

    async def run(self, jobs: Jobs, send: Send) -> None:
        await _first(jobs, send)
        _ready()
        while True:
            try:  # noqa: SIM105 - the bug under test, as users write it
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                pass


class Sleeper(Strategy):
    """Sends one job, then blocks its event loop (``time.sleep``)."""

    name = "sleeper"
    seconds = 30.0

    async def run(self, jobs: Jobs, send: Send) -> None:
        await _first(jobs, send)
        _ready()
        time.sleep(self.seconds)  # noqa: ASYNC251 - the bug under test


class Exiter(Strategy):
    name = "exiter"

    async def run(self, jobs: Jobs, send: Send) -> None:
        await _first(jobs, send, 2)
        raise SystemExit(3)


class CtrlC(Strategy):
    """Raises ``KeyboardInterrupt`` itself (no signal): a strategy's bug, not the user's Ctrl-C."""

    name = "ctrl-c"

    async def run(self, jobs: Jobs, send: Send) -> None:
        await _first(jobs, send)
        raise KeyboardInterrupt


class SignalsSelf(Strategy):
    """Sends three jobs, sends SIGINT to its own process (the user's Ctrl-C), then waits (really)."""

    name = "signals-self"

    async def run(self, jobs: Jobs, send: Send) -> None:
        await _first(jobs, send, 3)
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.to_thread(threading.Event().wait, 3)


class BadLimits(Strategy):
    name = "bad-limits"
    client_limits = "many"  # type: ignore[assignment]

    async def run(self, jobs: Jobs, send: Send) -> None:
        async for job in jobs:
            await send(job)


class ZeroPool(BadLimits):
    name = "zero-pool"
    client_limits = httpx.Limits(max_connections=0)


class NumberName(Strategy):
    name = 42  # type: ignore[assignment]


class FakeAiolimiter(Strategy):
    """A user's class that took a built-in's name."""

    name = "aiolimiter"


class Forger(Strategy):
    """Never reads the workload: sends job ids it made up."""

    name = "forger"

    async def run(self, jobs: Jobs, send: Send) -> None:
        for i in range(self.quota.concurrency):
            await send(Job(i))


class LateFinisher(Strategy):
    """Swallows the cancellation at its timeout, then sends every job anyway and returns normally."""

    name = "late-finisher"

    async def run(self, jobs: Jobs, send: Send) -> None:
        try:  # noqa: SIM105 - the bug under test, as users write it
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass
        async for job in jobs:
            await send(job)
