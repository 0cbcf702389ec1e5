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

from bench import clock, metrics, netmodel
from bench.records import CANCELLED, TRANSPORT_ERROR, Arrival, Attempt
from bench.scenarios import Scenario
from bench.transport import AsgiServer, Server
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


def oracle_makespan(scenario: Scenario, server_t0: float = 0.0) -> float | None:
    """How long the fastest client the server's policy allows would take for this workload.

    ``server_t0`` is the server clock at run start: clock-aligned windows (``floor(now / W)``) sit
    where the server's clock puts them, not at the run's start. ``None`` where the oracle cannot know
    the answer: no quota, quotas that change during the run (schedule, neighbour, penalty, lockout),
    a server concurrency cap, or a random latency model.
    """
    server = scenario.server
    d = server.dynamics
    if (not server.quota or d.schedule or d.neighbour or d.penalty or d.lockout_s or server.concurrency.limit
            or server.latency.model != "fixed"):
        return None
    releases = [server_t0 + r for r in scenario.workload.release_times()]
    return metrics.oracle_makespan(releases, policies.build(server.quota), scenario.latency_s)


async def run_one(strategy_cls: type[Strategy], scenario: Scenario, server: Server, repeat: int = 0) -> RunResult:
    await server.reset(scenario.server)
    loop = asyncio.get_running_loop()
    releases = scenario.workload.release_times()
    pending: list[tuple[str, Attempt]] = []
    tries: Counter[int] = Counter()

    try:
        strategy: Strategy | None = strategy_cls(scenario.declared)
        error = None
    except Exception as e:  # configuring from the declared quota failed: a finding, not a harness crash
        strategy, error = None, _describe(e)
    limits = strategy.client_limits if strategy else None

    async with server.client(limits) as client:
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
            except asyncio.CancelledError:
                status = CANCELLED
                raise
            finally:
                # Recorded even when cancelled or failed: the attempt happened and may have reached the server.
                pending.append((rid, Attempt(job.id, n, job.release_s, sent, None, loop.time() - t0, status)))

        cpu0, wall0 = time.process_time(), _wall()
        status = "failed" if strategy is None else "ok"
        if strategy is not None:
            try:
                await asyncio.wait_for(strategy.run(jobs(), send), scenario.timeout_s)
            except TimeoutError:
                status, error = "timeout", f"did not finish within {scenario.timeout_s:g} s"
            except Exception as e:  # a strategy's own bug is a finding for the table, not a crash of the harness
                status, error = "failed", _describe(e)
        cpu_s, wall_s = time.process_time() - cpu0, _wall() - wall0

    log = await server.arrivals()
    arrivals = tuple(replace(a, t=a.t - t0) for a in log.arrivals)
    by_id = {a.request_id: a.t for a in arrivals}
    attempts = tuple(sorted((replace(a, arrival_s=by_id.get(rid)) for rid, a in pending),
                            key=lambda a: (a.sent_s, a.job, a.attempt)))
    if not log.complete:
        note = f"server log incomplete ({log.dropped} arrivals dropped): burst metrics withheld"
        error = f"{error}; {note}" if error else note
    # Burst metrics judge against what the server enforces, which may differ from what it declares.
    enforced = tuple(Tier(q.limit, q.window_s) for q in scenario.server.quota)
    m = metrics.compute(
        attempts, arrivals if log.complete else None, enforced, requests=len(releases),
        # In-process, the server's CPU is the client's: a per-request CPU figure would be meaningless.
        cpu_s=cpu_s if server.name != "asgi" else None,
        # Client and server read one clock (system monotonic, or the virtual loop): t0 is the server's too.
        oracle_makespan_s=oracle_makespan(scenario, t0),
        rejected={429, scenario.server.headers.reject_status},
    )
    return RunResult(strategy_cls.name, repeat, status, error, attempts, arrivals, m, wall_s)


def run_virtual(strategy_cls: type[Strategy], scenario: Scenario, repeat: int = 0,
                profile: netmodel.Profile | None = None) -> RunResult:
    """One run in virtual time on a fresh loop and in-process server; with ``profile``, delays and
    timer lateness drawn from it, seeded by :func:`bench.netmodel.seed_for` (scenario, repeat)."""
    model = netmodel.RunModel.build(profile, netmodel.seed_for(scenario.name, repeat, scenario.seed))
    return clock.run(run_one(strategy_cls, scenario, AsgiServer(model.net), repeat), timers=model.timers,
                     start=model.start_s)


def _describe(e: BaseException) -> str:
    return "".join(traceback.format_exception_only(e)).strip()
