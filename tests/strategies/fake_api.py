"""Test doubles for the response-driven strategies: a scripted ``send`` that records when each attempt
was made (loop time), and a one-call end-to-end run against the real mock app under virtual time."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench import clock
from bench.runner import RunResult, run_one
from bench.scenarios import from_dict
from bench.transport import AsgiServer
from strategies.base import Job, Quota, Strategy, Tier

#: respond(job, attempt, now) -> the response for that attempt, or an exception to raise.
Responder = Callable[[int, int, float], httpx.Response | Exception]


@dataclass(frozen=True)
class Call:
    job: int
    attempt: int
    t: float


class FakeApi:
    def __init__(self, respond: Responder, latency_s: float = 0.0) -> None:
        self.respond = respond
        self.latency_s = latency_s
        self.calls: list[Call] = []
        self._tries: defaultdict[int, int] = defaultdict(int)

    async def send(self, job: Job) -> httpx.Response:
        self._tries[job.id] += 1
        now = asyncio.get_running_loop().time()
        self.calls.append(Call(job.id, self._tries[job.id], now))
        outcome = self.respond(job.id, self._tries[job.id], now)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def times(self, job: int | None = None) -> list[float]:
        return [c.t for c in self.calls if job is None or c.job == job]


async def jobs(releases: Sequence[float]) -> AsyncIterator[Job]:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i, rel in enumerate(releases):
        delay = t0 + rel - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield Job(i, rel)


def quota(rate: float | None = 10.0, concurrency: int = 20) -> Quota:
    tiers = () if rate is None else (Tier(int(rate), 1.0),)
    return Quota(tiers, concurrency=concurrency)


def drive(strategy: Strategy, api: FakeApi, n: int, every_s: float = 0.0,
          releases: Sequence[float] | None = None) -> float:
    """Run ``strategy`` on ``n`` jobs (released ``every_s`` apart, or at ``releases``) against ``api``
    under virtual time; the loop time it finished at."""
    rel = list(releases) if releases is not None else [i * every_s for i in range(n)]

    async def main() -> float:
        await strategy.run(jobs(rel), api.send)
        return asyncio.get_running_loop().time()

    return clock.run(main())


def rate_limited(headers: dict[str, str], status: int = 429) -> httpx.Response:
    return httpx.Response(status, headers=headers)


def end_to_end(cls: type[Strategy], scenario: dict[str, Any]) -> RunResult:
    """``run_one`` against the in-process mock app, under the virtual clock."""
    return clock.run(run_one(cls, from_dict(scenario, "test"), AsgiServer()))
