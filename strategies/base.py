"""The seam every throttling strategy plugs into.

A strategy receives the jobs as the workload releases them and a ``send`` coroutine that the harness
owns: ``send(job)`` makes one HTTP attempt for that job, stamps its times, and returns the
``httpx.Response`` (or raises ``httpx.TransportError``). The strategy decides everything about
scheduling: when, how many at once, whether to retry. It is configured only from the *declared*
quota (what the API documents), never from the server's hidden state.

A strategy is a class constructed with the declared :class:`Quota`::

    class Sequential(Strategy):
        name = "sequential"
        description = "one request at a time"

        async def run(self, jobs: Jobs, send: Send) -> None:
            async for job in jobs:
                await send(job)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

import httpx


@dataclass(frozen=True, slots=True)
class Tier:
    """At most ``limit`` requests in any ``window_s`` seconds; with ``unit = "tokens"``, at most
    ``limit`` units of cost (:attr:`Job.cost`), as LLM APIs' tokens-per-minute quotas count."""

    limit: int
    window_s: float
    unit: str = "requests"

    @property
    def rate(self) -> float:
        return self.limit / self.window_s


@dataclass(frozen=True, slots=True)
class Quota:
    """What the API documents, plus the client-side concurrency cap the scenario allows.

    >>> Quota(tiers=(Tier(20, 1.0), Tier(100, 60.0)), concurrency=20).rate
    1.6666666666666667
    """

    tiers: tuple[Tier, ...]
    concurrency: int = 20

    @property
    def binding(self) -> Tier | None:
        """The request tier with the lowest sustained rate: it sets the long-run ceiling on requests.
        (Token tiers are not compared with request tiers: see :attr:`token_tiers`.)"""
        tiers = [t for t in self.tiers if t.unit == "requests"]
        return min(tiers, key=lambda t: (t.rate, t.window_s)) if tiers else None

    @property
    def token_tiers(self) -> tuple[Tier, ...]:
        """The tiers that count cost units (tokens), not requests."""
        return tuple(t for t in self.tiers if t.unit == "tokens")

    @property
    def rate(self) -> float:
        """Sustained requests per second allowed; ``inf`` when the API declares no quota."""
        b = self.binding
        return b.rate if b else float("inf")


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of work: make a successful request for it."""

    id: int
    release_s: float = 0.0  # scheduled release, relative to run start
    cost: int = 1  # units a token tier counts this job's request as (e.g. an LLM prompt's tokens)


Jobs = AsyncIterator[Job]
Send = Callable[[Job], Awaitable[httpx.Response]]
#: What a :class:`Gated` strategy holds around each send: a semaphore, a limiter, a bucket…
Gate = contextlib.AbstractAsyncContextManager[object]

#: Where a strategy that ``requires = ("redis",)`` finds its Redis: a ``redis://`` URL in this environment
#: variable, set by the harness (bench.redis_server) to a fresh private redis-server for the run, inherited by
#: every client process of a ``--processes N`` run. A strategy reads it when its run starts, not at import.
REDIS_URL_ENV = "RATEBENCH_REDIS_URL"


class Strategy:
    """Base class: subclasses set ``name`` and implement :meth:`run`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Connection-pool limits this strategy wants on the harness's client (None: effectively unlimited).
    #: Read after construction, so ``__init__`` may derive it from the quota.
    client_limits: httpx.Limits | None = None
    #: Services the harness must provide, e.g. ``("redis",)`` (see :data:`REDIS_URL_ENV`). Where it cannot
    #: (no redis-server, or virtual time, which cannot wait on sockets), the run is reported as skipped.
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, quota: Quota) -> None:
        self.quota = quota

    async def run(self, jobs: Jobs, send: Send) -> None:
        raise NotImplementedError


async def for_each(jobs: Jobs, handle: Callable[[Job], Awaitable[object]]) -> None:
    """Start ``handle(job)`` as its own task the moment each job is released; wait for all.

    The common shape of per-request limiters: ``async with limiter: await send(job)`` per job.
    A transport error ends that job only (the harness has already recorded it), not the run.
    """

    async def guarded(job: Job) -> None:
        with contextlib.suppress(httpx.TransportError):
            await handle(job)

    async with asyncio.TaskGroup() as tg:
        async for job in jobs:
            tg.create_task(guarded(job))


class Gated(Strategy):
    """A strategy that is one gate around each send: ``async with gate: await send(job)``, one task per job.

    Subclasses build the gate from the declared quota in :meth:`gate` (called inside the running loop,
    once per run); ``None`` means there is nothing to limit (e.g. no declared quota)::

        class SemaphoreOnly(Gated):
            name = "semaphore"

            def gate(self) -> Gate | None:
                return asyncio.Semaphore(self.quota.concurrency)
    """

    def gate(self) -> Gate | None:
        raise NotImplementedError

    async def run(self, jobs: Jobs, send: Send) -> None:
        gate = self.gate()
        if gate is None:
            await for_each(jobs, send)
            return

        async def one(job: Job) -> None:
            async with gate:
                await send(job)

        await for_each(jobs, one)
