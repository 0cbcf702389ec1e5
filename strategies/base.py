"""The seam every throttling strategy plugs into.

A strategy receives the jobs as the workload releases them and a ``send`` coroutine that the harness
owns: ``send(job)`` makes one HTTP attempt for that job, stamps its times, and returns the
``httpx.Response`` (or raises ``httpx.TransportError``). The strategy decides everything about
scheduling: when, how many at once, whether to retry. It is configured only from the *declared*
quota (what the API documents), never from the server's hidden state.

A strategy is a class constructed with the declared :class:`Quota`. It may declare *parameters*
(:class:`Param`: typed, with a default and a doc line) that a scenario or the command line sets; each
parameter is a class attribute of the same name, read as ``self.<name>`` (``None``: derived from the
quota, as the doc says). :func:`configured` makes the subclass a run uses::

    class Sequential(Strategy):
        name = "sequential"
        description = "one request at a time"
        params = (Param("pause_s", float, 0.0, "pause after each response"),)
        pause_s: ClassVar[float] = 0.0

        async def run(self, jobs: Jobs, send: Send) -> None:
            async for job in jobs:
                await send(job)
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

import httpx

#: The types a parameter may have (what a TOML scalar or a command-line value can give).
ParamValue = int | float | bool | str


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


class JobDropped(httpx.TransportError):
    """Raised by the harness's ``send`` for a job that gave up (its deadline passed, or it was cancelled)
    before it was sent: nothing was sent. A transport error, so per-job code that already survives
    one (e.g. :func:`for_each`) ends that job only."""


class GiveUp:
    """When a job that is still waiting gives up: at loop time ``at``, for ``kind`` ``"deadline"`` (the
    job is *dropped*) or ``"cancel"`` (it is *cancelled*). The harness attaches one to a :class:`Job`
    whose workload says so and counts each job that gives up once, through ``on_give_up(kind)``.

    Two ways it takes effect: :func:`for_each` runs each job's task inside :meth:`scope`, which cancels
    the task at ``at`` if it has not started sending (the waiter leaves the limiter's queue, the way
    ``asyncio.timeout`` around ``async with limiter`` does in an application); a strategy that does not
    use ``for_each`` meets it at ``send``: a job past ``at`` is not sent (:class:`JobDropped`).
    """

    __slots__ = ("_on_give_up", "_scope", "at", "gave_up", "kind", "sent")

    def __init__(self, at: float, kind: str, on_give_up: Callable[[str], None]) -> None:
        self.at, self.kind, self._on_give_up = at, kind, on_give_up
        self.gave_up = self.sent = False
        self._scope: asyncio.Timeout | None = None

    def _give_up(self) -> None:
        if not self.gave_up:
            self.gave_up = True
            self._on_give_up(self.kind)

    async def scope(self, work: Awaitable[object]) -> None:
        """Await ``work``, cancelled at :attr:`at` unless the job started sending before."""
        try:
            async with asyncio.timeout_at(self.at) as cm:
                self._scope = cm
                await work
        except TimeoutError:
            if not cm.expired() or self.sent:
                raise  # not ours: a timeout inside the work itself
            self._give_up()
        finally:
            self._scope = None

    def sending(self, now: float) -> bool:
        """The harness is about to send the job at loop time ``now``: ``False`` (and the job counted as
        given up) when it has already given up; otherwise the give-up is disarmed and it goes."""
        if self.gave_up or (self._scope is not None and self._scope.expired()):
            self._give_up()
            return False
        if self._scope is not None:
            self._scope.reschedule(None)
        elif now >= self.at:
            self._give_up()
            return False
        self.sent = True
        return True


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of work: make a successful request for it."""

    id: int
    release_s: float = 0.0  # scheduled release, relative to run start
    cost: int = 1  # units a token tier counts this job's request as (e.g. an LLM prompt's tokens)
    #: When the job gives up if it is still waiting (a deadline, a cancellation); ``None``: never.
    give_up: GiveUp | None = field(default=None, compare=False, repr=False)


Jobs = AsyncIterator[Job]
Send = Callable[[Job], Awaitable[httpx.Response]]
#: What a :class:`Gated` strategy holds around each send: a semaphore, a limiter, a bucket…
Gate = contextlib.AbstractAsyncContextManager[object]

#: Where a strategy that ``requires = ("redis",)`` finds its Redis: a ``redis://`` URL in this environment
#: variable, set by the harness (bench.redis_server) to a fresh private redis-server for the run, inherited by
#: every client process of a ``--processes N`` run. A strategy reads it when its run starts, not at import.
REDIS_URL_ENV = "RATEBENCH_REDIS_URL"


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter a strategy declares: its ``name`` (also the class attribute holding its value), its
    ``type`` (``int``, ``float``, ``bool`` or ``str``), its ``default`` (``None``: derived from the declared
    quota, as ``doc`` says), a one-line ``doc``, and an optional inclusive lower bound ``minimum``.

    >>> p = Param("capacity", float, 1.0, "tokens the bucket holds", minimum=1)
    >>> p.parse("2.5"), p.parse(3)
    (2.5, 3.0)
    >>> p.parse("0.5")
    Traceback (most recent call last):
    ...
    ValueError: capacity: must be >= 1, got 0.5
    """

    name: str
    type: type[ParamValue]
    default: ParamValue | None
    doc: str
    minimum: float | None = None

    def parse(self, raw: object) -> ParamValue:
        """``raw`` (a TOML value, or the text given on the command line) as this parameter's type; a
        ``ValueError`` naming the parameter if it is not one."""
        value: ParamValue
        if self.type is bool:
            text = str(raw).lower() if isinstance(raw, str | bool) else None
            if text not in ("true", "false"):
                raise ValueError(f"{self.name}: must be true or false, got {raw!r}")
            value = text == "true"
        elif self.type is int:
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                raise ValueError(f"{self.name}: must be a whole number, got {raw!r}")
            try:
                value = int(raw)
            except ValueError:
                raise ValueError(f"{self.name}: must be a whole number, got {raw!r}") from None
        elif self.type is float:
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise ValueError(f"{self.name}: must be a number, got {raw!r}")
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{self.name}: must be a number, got {raw!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"{self.name}: must be a finite number, got {raw!r}")
        else:
            if not isinstance(raw, str) or not raw:
                raise ValueError(f"{self.name}: must be a non-empty string, got {raw!r}")
            value = raw
        if self.minimum is not None and not isinstance(value, bool | str) and value < self.minimum:
            raise ValueError(f"{self.name}: must be >= {self.minimum:g}, got {value!r}")
        return value


class Strategy:
    """Base class: subclasses set ``name`` and implement :meth:`run`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: The parameters a scenario or ``--param`` may set (each is a class attribute of the same name).
    params: ClassVar[tuple[Param, ...]] = ()
    #: The parameters set on this class by :func:`configured` (empty for a strategy as built in).
    param_values: ClassVar[Mapping[str, ParamValue]] = MappingProxyType({})
    #: The strategy this one was configured from (its own name when not configured).
    base_name: ClassVar[str] = ""
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

    def counters(self) -> dict[str, int]:
        """What this strategy counted in its last :meth:`run` that no server log shows, by name (integers
        >= 0; e.g. ``{"capped_hints": 2}``). The harness reads it after the run ends, also a timed-out or
        failed one, and keeps it in results.json per run (``bench.counters``). None by default."""
        return {}


def configured(cls: type[Strategy], values: Mapping[str, ParamValue]) -> type[Strategy]:
    """A subclass of ``cls`` with ``values`` set (each must be one of ``cls.params``, already parsed),
    named ``name[k=v,...]`` in declaration order so that every configuration is a row of its own.

    >>> class Bucket(Strategy):
    ...     name = "bucket"
    ...     params = (Param("capacity", float, 1.0, "burst size"),)
    ...     capacity: ClassVar[float] = 1.0
    >>> c = configured(Bucket, {"capacity": 5.0})
    >>> c.name, c.capacity, c.base_name, dict(c.param_values)
    ('bucket[capacity=5]', 5.0, 'bucket', {'capacity': 5.0})
    """
    declared = {p.name: p for p in cls.params}
    for k in values:
        if k not in declared:
            raise KeyError(f"strategy {cls.name!r} has no parameter {k!r} "
                           f"(it has: {', '.join(declared) or 'none'})")
    ordered = {p.name: values[p.name] for p in cls.params if p.name in values}
    label = ",".join(f"{k}={format_value(v)}" for k, v in ordered.items())
    attrs: dict[str, object] = dict(ordered)
    attrs.update(name=f"{cls.name}[{label}]", base_name=cls.base_name or cls.name,
                 param_values=MappingProxyType(ordered), __module__=cls.__module__, __doc__=cls.__doc__)
    return type(f"{cls.__name__}[{label}]", (cls,), attrs)


def format_value(v: ParamValue) -> str:
    """A parameter value as the row names and charts show it: ``5`` for 5.0, ``true``, ``0.25``.

    >>> format_value(5.0), format_value(0.25), format_value(True), format_value(10)
    ('5', '0.25', 'true', '10')
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


async def for_each(jobs: Jobs, handle: Callable[[Job], Awaitable[object]]) -> None:
    """Start ``handle(job)`` as its own task the moment each job is released; wait for all.

    The common shape of per-request limiters: ``async with limiter: await send(job)`` per job.
    A transport error ends that job only (the harness has already recorded it), not the run. A job that
    gives up while waiting (:class:`GiveUp`: a deadline, a cancellation) has its task cancelled then.
    """

    async def guarded(job: Job) -> None:
        with contextlib.suppress(httpx.TransportError):
            if job.give_up is None:
                await handle(job)
            else:  # a deadline or a cancellation: the waiting task is cancelled then (GiveUp)
                await job.give_up.scope(handle(job))

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
