"""Runs strategies against the mock server and collects what happened, on both sides.

One run = one strategy × one scenario × one repetition against a freshly reset server. The harness
owns ``send``: it stamps intended / sent / done per attempt and tags each request with an id that
the server logs, so the server's arrival times join back to the client's records.

>>> from bench import scenarios, clock
>>> from bench.transport import AsgiServer
>>> from strategies.registry import resolve
>>> r = clock.run(run_one(resolve("unlimited"), scenarios.load("default"), AsgiServer()))
>>> r.status, len(r.attempts)
('ok', 200)
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import httpx

from bench import metrics
from bench.records import TRANSPORT_ERROR, Arrival, Attempt
from bench.scenarios import Scenario
from bench.transport import Server
from mock_server import policies
from strategies.base import Job, Strategy, Tier

#: The path every strategy's request goes to; the mock treats every non-admin path alike.
API_PATH = "/v1/items"


@dataclass(frozen=True)
class RunResult:
    strategy: str
    repeat: int
    status: str  # "ok", "timeout" (hung past the scenario's timeout_s) or "failed" (raised)
    error: str | None
    attempts: tuple[Attempt, ...]
    arrivals: tuple[Arrival, ...]  # this run's server log, times relative to run start
    metrics: metrics.Metrics
    wall_s: float


def _wall() -> float:
    # Real elapsed time even under the virtual loop, which patches time.monotonic/perf_counter.
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def oracle_makespan(scenario: Scenario) -> float | None:
    """How long the fastest client the server's policy allows would take for this workload."""
    if not scenario.server.quota:
        return None
    return metrics.oracle_makespan(scenario.workload.release_times(), policies.build(scenario.server.quota),
                                   scenario.latency_s)


async def run_one(strategy_cls: type[Strategy], scenario: Scenario, server: Server, repeat: int = 0) -> RunResult:
    await server.reset(scenario.server)
    strategy = strategy_cls(scenario.declared)
    loop = asyncio.get_running_loop()
    releases = scenario.workload.release_times()
    pending: list[tuple[str, Attempt]] = []
    tries: Counter[int] = Counter()

    async with server.client(strategy.client_limits) as client:
        t0 = loop.time()

        async def jobs() -> AsyncIterator[Job]:
            for i, rel in enumerate(releases):
                delay = t0 + rel - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                yield Job(i, rel)

        async def send(job: Job) -> httpx.Response:
            tries[job.id] += 1
            n = tries[job.id]
            rid = f"{job.id}.{n}"
            sent = loop.time() - t0
            status = TRANSPORT_ERROR
            try:
                response = await client.get(API_PATH, headers={"x-request-id": rid})
                status = response.status_code
                return response
            finally:
                # Recorded even when cancelled or failed: the attempt happened and may have reached the server.
                pending.append((rid, Attempt(job.id, n, job.release_s, sent, None, loop.time() - t0, status)))

        cpu0, wall0 = time.process_time(), _wall()
        status, error = "ok", None
        try:
            await asyncio.wait_for(strategy.run(jobs(), send), scenario.timeout_s)
        except TimeoutError:
            status, error = "timeout", f"did not finish within {scenario.timeout_s:g} s"
        except Exception as e:  # a strategy's own bug is a finding for the table, not a crash of the harness
            status, error = "failed", "".join(traceback.format_exception_only(e)).strip()
        cpu_s, wall_s = time.process_time() - cpu0, _wall() - wall0

    arrivals = tuple(replace(a, t=a.t - t0) for a in await server.arrivals())
    by_id = {a.request_id: a.t for a in arrivals}
    attempts = tuple(sorted((replace(a, arrival_s=by_id.get(rid)) for rid, a in pending),
                            key=lambda a: (a.sent_s, a.job, a.attempt)))
    # Burst metrics judge against what the server enforces, which may differ from what it declares.
    enforced = tuple(Tier(q.limit, q.window_s) for q in scenario.server.quota)
    m = metrics.compute(attempts, arrivals, enforced, requests=len(releases), cpu_s=cpu_s,
                        oracle_makespan_s=oracle_makespan(scenario))
    return RunResult(strategy_cls.name, repeat, status, error, attempts, arrivals, m, wall_s)
