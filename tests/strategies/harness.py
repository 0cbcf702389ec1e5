"""Shared helpers for strategy tests: drive ``strategy.run(jobs, send)`` under the virtual loop.

:func:`drive` runs a strategy against a fake ``send`` that records the loop time of every send and
how many were in flight, and returns a :class:`Timeline`::

    tl = drive(Aiometer(quota(10)), 20)
    assert tl.times == pytest.approx([0.1 * k for k in range(20)], abs=TICKS)
    assert tl.peak(0.1) == 1            # never two starts in one interval

:func:`end_to_end` runs a strategy through the real runner and the in-process mock server (ASGI),
so server-side arrivals and metrics are available.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench import clock, metrics, scenarios
from bench.runner import RunResult, run_one
from bench.transport import AsgiServer
from strategies.base import Job, Quota, Strategy, Tier

#: Libraries that compute wake-ups in floats land within a few virtual ticks (1 µs each) of the ideal.
TICKS = 5e-6


def quota(limit: int, window_s: float = 1.0, concurrency: int = 20) -> Quota:
    """One declared tier, ``limit`` per ``window_s``."""
    return Quota((Tier(limit, window_s),), concurrency)


@dataclass
class Timeline:
    """What a fake ``send`` saw: per job, when it was sent and done (loop time)."""

    sent: dict[int, float] = field(default_factory=dict)
    done: dict[int, float] = field(default_factory=dict)
    pulled: dict[int, float] = field(default_factory=dict)  # when the strategy took the job from the iterator
    peak_in_flight: int = 0
    finished: float = 0.0  # when run() returned

    @property
    def times(self) -> list[float]:
        """Send times, sorted."""
        return sorted(self.sent.values())

    @property
    def order(self) -> list[int]:
        """Job ids in the order they were sent."""
        return sorted(self.sent, key=lambda j: (self.sent[j], j))

    def peak(self, window_s: float) -> int:
        """Most sends in any half-open window ``[t, t + window_s)`` (the §4 definition)."""
        return metrics.peak_window_count(self.times, window_s)

    def in_window(self, start: float, window_s: float) -> int:
        return sum(1 for t in self.times if start <= t < start + window_s)


def gaps(times: Sequence[float]) -> list[float]:
    """Differences between consecutive (sorted) times."""
    ts = sorted(times)
    return [b - a for a, b in itertools.pairwise(ts)]


Latency = float | Callable[[Job], float]


def drive(
    strategy: Strategy,
    n: int,
    *,
    latency: Latency = 0.0,
    releases: Sequence[float] | None = None,
    before: Callable[[], Any] | None = None,
) -> Timeline:
    """Run ``strategy`` on ``n`` jobs under :func:`bench.clock.run` (time patched) and record it.

    ``latency``: seconds each ``send`` takes (a number, or a function of the job); ``releases``:
    release time of each job (default: all at 0, a batch); ``before``: called inside the loop first
    (e.g. to schedule a stall).
    """
    tl = Timeline()
    in_flight = 0
    rel = list(releases) if releases is not None else [0.0] * n
    assert len(rel) == n

    async def jobs() -> AsyncIterator[Job]:
        loop = asyncio.get_running_loop()
        for i, r in enumerate(rel):
            delay = r - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tl.pulled[i] = loop.time()
            yield Job(i, r)

    async def send(job: Job) -> httpx.Response:
        nonlocal in_flight
        loop = asyncio.get_running_loop()
        assert job.id not in tl.sent, f"job {job.id} sent twice"
        tl.sent[job.id] = loop.time()
        in_flight += 1
        tl.peak_in_flight = max(tl.peak_in_flight, in_flight)
        try:
            wait = latency(job) if callable(latency) else latency
            if wait > 0:
                await asyncio.sleep(wait)
        finally:
            in_flight -= 1
        tl.done[job.id] = loop.time()
        return httpx.Response(200)

    async def main() -> None:
        if before is not None:
            before()
        await strategy.run(jobs(), send)
        tl.finished = asyncio.get_running_loop().time()

    clock.run(main())
    assert sorted(tl.sent) == list(range(n)), "every job must be sent exactly once"
    return tl


def stall(seconds: float) -> None:
    """Freeze the running virtual loop for ``seconds``: its clock jumps while no callback runs, exactly
    as a real clock moves on while a CPU-bound callback blocks the loop. Call from inside the loop."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, clock.VirtualEventLoop)
    loop.advance(seconds)


def scenario(limit: int, jobs: int, *, window_s: float = 1.0, latency_ms: float = 10, concurrency: int = 20,
             quota: list[dict[str, Any]] | None = None, **workload: Any) -> scenarios.Scenario:
    """A small sliding-log scenario (or the given server ``quota`` tiers)."""
    tiers = quota or [{"algorithm": "sliding-log", "limit": limit, "window_s": window_s}]
    return scenarios.from_dict(
        {
            "server": {"latency_ms": latency_ms, "quota": tiers},
            "workload": {"jobs": jobs, **workload},
            "client": {"concurrency": concurrency, "timeout_s": 120},
        },
        "test",
    )


def end_to_end(strategy_cls: type[Strategy], sc: scenarios.Scenario) -> RunResult:
    """One run through :func:`bench.runner.run_one` and the in-process mock, under virtual time."""
    result = clock.run(run_one(strategy_cls, sc, AsgiServer()))
    assert result.status == "ok", result.error
    return result


def arrival_times(result: RunResult) -> list[float]:
    return sorted(a.t for a in result.arrivals)
