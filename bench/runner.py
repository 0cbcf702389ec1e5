"""Runs strategies against the mock server and collects what happened, on both sides.

One run = one strategy × one scenario × one repetition against a freshly reset server. The harness
owns ``send``: it stamps intended / sent / done per attempt and tags each request with an id that
the server logs, so the server's arrival times join back to the client's records.

Over a socket, anyone on the machine can send requests to the server: arrivals whose id is not one of
the run's own (ids carry a random per-run tag) are counted as *foreign*, and a server state reset by
someone else during the run (its generation moved on) is counted as an *outside reset*; either marks
the run as disturbed (:attr:`RunResult.disturbed`), and an outside reset withholds the burst metrics.

>>> from bench import scenarios, clock
>>> from bench.transport import AsgiServer
>>> from strategies.registry import resolve
>>> r = clock.run(run_one(resolve("unlimited"), scenarios.load("steady"), AsgiServer()))
>>> r.status, len(r.attempts)
('ok', 60)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import secrets
import time
import traceback
from array import array
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

import httpx

from bench import clock, compliance, counters, metrics, netmodel
from bench.columns import NO_NS, ArrivalColumns, AttemptColumns, Tries, id_shape
from bench.harness_lag import CROWD, HarnessLag, release_lag, send_lag, transits
from bench.loop_lag import Ticker
from bench.records import CANCELLED, TRANSPORT_ERROR, Arrival, Attempt
from bench.request_ids import request_id
from bench.scenarios import Scenario
from bench.tally import LIVE
from bench.transport import DEFAULT_LIMITS, AsgiServer, Server
from mock_server import policies, ticks
from strategies.base import GiveUp, Job, JobDropped, Strategy, Tier

#: The path every strategy's request goes to; the mock treats every non-admin path alike.
API_PATH = "/v1/items"


@dataclass(frozen=True)
class RunResult:
    strategy: str
    repeat: int
    status: str  # "ok", "timeout" (hung past the scenario's timeout_s) or "failed" (raised)
    error: str | None
    attempts: Sequence[Attempt]  # by (sent_s, job, attempt); AttemptColumns from a run (bench.columns)
    arrivals: Sequence[Arrival]  # this run's server log, times relative to run start; ArrivalColumns from a run
    metrics: metrics.Metrics
    wall_s: float
    foreign_arrivals: int = 0  # server arrivals that were not this run's requests
    outside_resets: int = 0  # resets of the server by someone else during the run
    harness: HarnessLag | None = None  # the harness's own lag (bench.harness_lag)
    counters: dict[str, int] = field(default_factory=dict)  # what the strategy counted (bench.counters)
    tag: str = ""  # the run's request-id tag (bench.request_ids): requests.csv names each attempt's id with it
    #: A ``--processes N`` run: each client process's own figures (bench.multiprocess); () for one process.
    processes: tuple[dict[str, object], ...] = ()

    @property
    def disturbed(self) -> str | None:
        """Why this run's server-side figures include others' doings, or ``None``."""
        why = []
        if self.foreign_arrivals:
            why.append(f"{self.foreign_arrivals} foreign arrivals (requests not from this run)")
        if self.outside_resets:
            why.append(f"{self.outside_resets} outside reset(s) of the server during the run")
        return "; ".join(why) or None


def _wall() -> float:
    # Real elapsed time even under the virtual loop, which patches time.monotonic/perf_counter.
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def oracle_makespan(scenario: Scenario, server_t0_ns: int = 0) -> float | None:
    """How long (seconds) the fastest client the server's policy allows would take for this workload.

    ``server_t0_ns`` is the server clock at run start (integer ns, the policies' ticks): clock-aligned
    windows (``now // W``) sit where the server's clock puts them, not at the run's start. Releases and
    latency are converted to the same ticks, so the oracle counts exactly as the server does. ``None``
    where the oracle cannot know the answer: no quota, quotas that change during the run (schedule,
    neighbour, penalty, lockout), a server concurrency cap, or a random latency model.
    """
    server = scenario.server
    d = server.dynamics
    if (not server.quota or d.schedule or d.neighbour or d.penalty or d.lockout_s or server.concurrency.limit
            or server.latency.model != "fixed"):
        return None
    releases = [server_t0_ns + ticks.from_seconds(r) for r in scenario.workload.release_times()]
    if any(q.unit == "tokens" for q in server.quota) or server.latency.per_unit_ms:
        ns = metrics.oracle_makespan(releases, policies.build(server.quota), ticks.from_seconds(scenario.latency_s),
                                     scenario.workload.costs(), ticks.from_seconds(server.latency.per_unit_ms / 1000))
    else:
        ns = metrics.oracle_makespan(releases, policies.build(server.quota), ticks.from_seconds(scenario.latency_s))
    return None if ns is None else ticks.to_seconds(ns)


#: The current run's request-id tag ("" in-process, ".<hex>" over a socket), for code running inside the run's
#: strategy task (the watchdog, which must count foreign arrivals of a run it had to end).
RUN_TAG: contextvars.ContextVar[str] = contextvars.ContextVar("ratebench_run_tag", default="")


@dataclass(frozen=True)
class Share:
    """This process's share of a run split across client processes (bench.multiprocess): the jobs ``i`` with
    ``i % count == index``, request ids carrying the run's common ``tag``, and ``start()``, which waits for the
    run's one start instant (agreed by all processes) and returns it in loop ns. The parent resets the server
    and reads its log; ``server`` here is this process's view of it."""

    index: int
    count: int
    tag: str
    start: Callable[[], Awaitable[int]]


async def run_one(strategy_cls: type[Strategy], scenario: Scenario, server: Server, repeat: int = 0,
                  share: Share | None = None) -> RunResult:
    generation = await server.reset(scenario.server)
    # Nobody else reaches an in-process app; over a socket, ids nobody can guess tell our requests apart.
    tag = "" if server.name == "asgi" else "." + secrets.token_hex(4)
    if share is not None:
        tag = share.tag  # one tag for all the run's processes: the parent tells its own arrivals apart by it
    RUN_TAG.set(tag)  # the strategy's task inherits it: the watchdog tells this run's arrivals apart by it
    loop = asyncio.get_running_loop()
    workload = scenario.workload
    # Attempts only (ids are bench.request_ids'), as columns (bench.columns): a few bytes per attempt.
    pending = AttemptColumns()
    tries = Tries()
    # The harness's own lateness, per job and per attempt (seconds, packed: 8 bytes a sample).
    release_lags, send_lags = array("d"), array("d")
    left: dict[str, float] = {}  # request id -> when httpx handed it to its transport
    busy = 0  # the run's requests in flight

    try:
        strategy: Strategy | None = strategy_cls(scenario.declared)
        error = None
    except Exception as e:  # configuring from the declared quota failed: a finding, not a harness crash
        strategy, error = None, _describe(e)
    limits = strategy.client_limits if strategy else None
    # The harness's own bound on the requests it has in flight: no more than its client has connections
    # (real mode). A job past it waits here as a bare task, not as a half-built request queued inside the
    # client: 10⁴+ jobs at once cost flat memory. The same wait as the pool's, so timed like it (service time).
    bound = None if server.name == "asgi" else (limits or DEFAULT_LIMITS).max_connections
    slots: contextlib.AbstractAsyncContextManager[object] = (
        contextlib.nullcontext() if bound is None else asyncio.Semaphore(bound))

    now_ns = clock.loop_ns(loop)
    LIVE.reset(workload.jobs, {429, scenario.server.headers.reject_status})  # the progress display's counts
    cost_header = scenario.server.cost.header  # every request declares its job's cost (1 by default)
    async with server.client(limits) as client:

        async def handed_to_transport(request: httpx.Request) -> None:
            # httpx calls request hooks right before its transport: the moment the request leaves the client.
            rid = request.headers.get("x-request-id")
            if rid is not None:
                left[rid] = loop.time()

        client.event_hooks["request"].append(handed_to_transport)
        if workload.phase_s is not None and scenario.server.quota:
            # Start at the asked phase of the first tier's clock-aligned windows (exactly, in virtual time).
            w_ns = ticks.from_seconds(scenario.server.quota[0].window_s)
            wait_ns = (ticks.from_seconds(workload.phase_s) - now_ns()) % w_ns
            if wait_ns:
                await clock.io_sleep(ticks.to_seconds(wait_ns))
        # Run start on the server's clock, in its integer ticks; t0 is the same instant in loop seconds.
        t0_ns = now_ns() if share is None else await share.start()
        t0 = ticks.to_seconds(t0_ns)
        gave_up: Counter[str] = Counter()  # jobs that gave up while waiting, by kind (GiveUp)

        def count_give_up(kind: str) -> None:
            gave_up[kind] += 1

        async def jobs() -> AsyncIterator[Job]:
            # Release times generated one at a time: a 10⁷-job workload allocates nothing up front.
            costs = workload.cost.iter_costs(workload.jobs)
            give_ups = workload.iter_give_ups()
            for i, (rel, cost, gu) in enumerate(zip(workload.iter_release_times(), costs, give_ups, strict=True)):
                asked = loop.time()
                if share is not None and i % share.count != share.index:
                    continue  # another process's job (bench.multiprocess)
                delay = t0 + rel - asked
                if delay > 0:
                    await asyncio.sleep(delay)
                release_lags.append(release_lag(t0 + rel, asked, loop.time()))
                give_up = None if gu is None else GiveUp(t0 + rel + gu[0], gu[1], count_give_up)
                yield Job(i, rel, cost, give_up)

        async def send(job: Job) -> httpx.Response:
            nonlocal busy
            if job.give_up is not None and not job.give_up.sending(loop.time()):
                raise JobDropped(f"job {job.id} gave up ({job.give_up.kind}) before it was sent")
            n = tries.next(job.id)
            rid = request_id(job.id, n, tag)
            sent = ready = loop.time() - t0
            status = TRANSPORT_ERROR
            crowded = busy >= CROWD  # sent while CROWD or more were in flight
            busy += 1
            try:
                async with slots:
                    ready = loop.time() - t0  # a connection is free: from here on, any delay is the client's
                    response = await client.get(API_PATH, headers={"x-request-id": rid, cost_header: str(job.cost)})
                status = response.status_code
                return response
            except asyncio.CancelledError:
                status = CANCELLED
                raise
            finally:
                busy -= 1
                # Recorded even when cancelled or failed: the attempt happened and may have reached the server.
                pending.append(job.id, n, job.release_s, sent, loop.time() - t0, status, crowded=crowded)
                LIVE.count(status)
                handed = left.pop(rid, None)
                if handed is not None:
                    send_lags.append(send_lag(ready, handed - t0))

        cpu0, wall0 = time.process_time(), _wall()
        status = "failed" if strategy is None else "ok"
        # The loop's lag: always over a socket; in virtual time only when asked (bench.loop_lag says why).
        load = scenario.load
        ticker = (Ticker(loop, t0, load.ticker_s if load else 0.01)
                  if load is not None or server.name != "asgi" else None)
        applied = load.start(loop, t0) if load is not None else None
        if strategy is not None:
            try:
                await asyncio.wait_for(strategy.run(jobs(), send), scenario.timeout_s)
            except TimeoutError:
                status, error = "timeout", f"did not finish within {scenario.timeout_s:g} s"
            except Exception as e:  # a strategy's own bug is a finding for the table, not a crash of the harness
                status, error = "failed", _describe(e)
            finally:
                if applied is not None:
                    applied.stop()
        lags = ticker.stop() if ticker is not None else None
        cpu_s, wall_s = time.process_time() - cpu0, _wall() - wall0
    counted, note = counters.collect(strategy)
    if note is not None:
        error = f"{error}; {note}" if error else note

    log = await server.arrivals()
    arrivals = ArrivalColumns.of(log.arrivals)  # fetched in pages, straight into columns (bench.transport)
    arrivals.shift(t0_ns)
    attempts, foreign = join(pending, tries, arrivals, lambda job, attempt: request_id(job, attempt, tag))
    outside = log.generation - generation if log.generation is not None and generation is not None else 0
    if not log.complete:
        note = f"server log incomplete ({log.dropped} arrivals dropped): burst metrics withheld"
        error = f"{error}; {note}" if error else note
    if outside:
        note = f"the server was reset from outside during the run ({outside}x): burst metrics withheld"
        error = f"{error}; {note}" if error else note
    # Burst metrics judge against what the server enforces, which may differ from what it declares.
    enforced = tuple(Tier(q.limit, q.window_s, q.unit) for q in scenario.server.quota)
    oracle = oracle_makespan(scenario, t0_ns)
    m = metrics.compute(
        attempts, arrivals if log.complete and not outside else None, enforced, requests=workload.jobs,
        # In-process, the server's CPU is the client's: a per-request CPU figure would be meaningless.
        cpu_s=cpu_s if server.name != "asgi" else None,
        # Client and server read one clock (system monotonic, or the virtual loop): t0 is the server's too.
        oracle_makespan_s=oracle,
        rejected={429, scenario.server.headers.reject_status},
        # Compliance by the API's own rule: its enforced policy, fresh, replays the arrivals (bench.compliance).
        judge=compliance.judge(scenario.server, t0_ns), judge_origin_ns=t0_ns,
        loop_lags=lags, start_ns=t0_ns, jobs_dropped=gave_up["deadline"], jobs_cancelled=gave_up["cancel"],
        job_costs=workload.costs() if any(t.unit == "tokens" for t in enforced) else None,
    )
    if scenario.server.dynamics.neighbour is not None:  # the key's other user: what the run took from it
        m = replace(m, neighbour_rejected=log.neighbour_rejected)
    if (withheld := metrics.efficiency_note(m, oracle)) is not None:
        error = f"{error}; {withheld}" if error else withheld
    # Transit of the sends that did not queue behind the run's own clump (harness_lag.CROWD).
    lag = HarnessLag.of(release_lags, send_lags,
                        transits(attempts.sent_arrival(i) for i in range(len(attempts)) if not attempts.crowded[i]),
                        transit_judged=limits is None and server.name not in ("asgi", "target"))
    return RunResult(strategy_cls.name, repeat, status, error, attempts, arrivals, m, wall_s, foreign, outside, lag,
                     counted, tag)


def join(pending: AttemptColumns, tries: Tries, arrivals: ArrivalColumns, request_id: Callable[[int, int], str],
         ) -> tuple[AttemptColumns, int]:
    """Each attempt with its server arrival (the arrival whose id is ``request_id(job, attempt)``, the run's own
    naming; the last one if the log has several), in report order (:meth:`AttemptColumns.by_send`: ``pending``
    itself, sorted), and how many arrivals are not the run's own (foreign). Arrays indexed by attempt slot
    (:class:`Tries`), no per-request dict."""
    shape = id_shape(request_id)
    tries.freeze()
    ns_by_slot = array("q", [NO_NS]) * tries.total
    foreign = 0
    for i in range(len(arrivals)):
        own = arrivals.own(i, shape)
        if own is None or not tries.has(*own):
            foreign += 1
        else:
            ns_by_slot[tries.slot(*own)] = arrivals.t_ns[i]
    pending.join(tries, ns_by_slot)
    return pending.by_send(), foreign


def virtual_setup(scenario: Scenario, repeat: int = 0, profile: netmodel.Profile | None = None,
                  ) -> tuple[AsgiServer, Callable[[], clock.VirtualEventLoop]]:
    """The in-process server and the loop factory for one virtual run: with ``profile``, delays and timer
    lateness drawn from it, seeded by :func:`bench.netmodel.seed_for` (scenario, repeat); without, the exact
    schedule. Each call gives a fresh server (bound to the fresh loop's clock when it first runs)."""
    model = netmodel.RunModel.build(profile, netmodel.seed_for(scenario.name, repeat, scenario.seed))

    def loop() -> clock.VirtualEventLoop:
        return clock.VirtualEventLoop(model.start_s, timers=model.timers)

    return AsgiServer(model.net), loop


def run_virtual(strategy_cls: type[Strategy], scenario: Scenario, repeat: int = 0,
                profile: netmodel.Profile | None = None) -> RunResult:
    """One run in virtual time (:func:`virtual_setup`), in this thread and without a watchdog."""
    server, loop = virtual_setup(scenario, repeat, profile)
    return clock.run(run_one(strategy_cls, scenario, server, repeat), loop_factory=loop)


def _describe(e: BaseException) -> str:
    return "".join(traceback.format_exception_only(e)).strip()
