"""``--processes N``: one run's jobs split across N client processes sharing one API key (issue 12).

In production a quota belongs to an API key and the clients are many: an in-memory limiter in each of N
processes lets N times the quota through. Here the parent resets the mock server once, then starts N worker
processes (``python -m bench.multiprocess``), each running the same strategy against the same server with
:func:`bench.runner.run_one` on its share of the jobs (job ``i`` goes to process ``i % N``). They start
together: each worker builds its strategy and client, reports ready, and waits for the one start instant the
parent sends once all are ready (``CLOCK_MONOTONIC`` ns, system-wide on Linux, the clock the mock server
stamps arrivals with), a little in the future so every worker is asleep waiting for it before it comes.

Request ids carry the run's one random tag in every process (``<job>.<attempt>.<tag>``, job ids unique
across processes), so the server's arrival log, the ground truth, tells the run's own requests from foreign
traffic. The parent joins every worker's attempts with the log into one :class:`~bench.runner.RunResult`
(the total, in ``metrics``) and keeps each process's own figures (:attr:`RunResult.processes`: its jobs,
429s, latency, CPU, and the burst ratio of its own arrivals alone).

Workers die with the parent (``PR_SET_PDEATHSIG``, :func:`mock_server.process.die_with_parent`) and are
killed by PID when the run times out or is interrupted. Each worker runs under the watchdog (bench.watchdog),
so on a signal it stops its run and hands over what it measured; the parent merges that into a partial row.
Real clock only: N processes are N event loops, and
the virtual clock is one loop in one process.

    out = run(resolve("aiolimiter"), scenario, server, repeat=0, processes=4)   # server: a started RealServer
    out.metrics.burst_ratio, [p["burst_ratio"] for p in out.processes]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import IO, Any

import httpx

from bench import compliance, metrics, watchdog
from bench.records import Attempt
from bench.request_ids import request_id
from bench.runner import RunResult, Share, oracle_makespan, run_one
from bench.scenarios import Scenario
from bench.transport import TRANSPORTS, RealServer, ServerLog
from mock_server import ticks
from mock_server.config import ServerConfig
from mock_server.process import PARENT_ENV, die_with_parent
from strategies.base import Strategy, Tier, configured

__all__ = ["MAX_PROCESSES", "MULTI_PROCESS_KIND", "Order", "main", "run", "usage_error"]

#: More client processes than this on one machine measure the scheduler, not the limiter.
MAX_PROCESSES = 64
#: How far ahead of "all ready" the common start instant is set: every worker must be asleep waiting for it.
START_MARGIN_S = 0.2
#: Time a worker may take to start (interpreter, imports, strategy, client) before the run is abandoned.
READY_TIMEOUT_S = 60.0
#: Time a worker may take past the run's own timeout to hand its records over before it is killed.
HANDOVER_S = 30.0
#: Time a worker may take to stop its run and hand its records over after a signal (its watchdog waits up to
#: ``join_s`` for the run's thread), before it is killed and its records are missing.
INTERRUPT_HANDOVER_S = 10.0
#: The per-process figures kept in results.json (from :class:`bench.metrics.Metrics`, plus a few of our own).
FIGURES = ("requests", "attempts", "succeeded", "throttled", "errors", "burst_ratio", "peak_window_count",
           "latency_p50_ms", "latency_p99_ms", "throughput_rps", "cpu_s_per_1k")
_FD_ENV = "RATEBENCH_WORKER_FD"
#: A scenario kind that only makes sense split across processes (e.g. ``shared-quota``).
MULTI_PROCESS_KIND = "multi-process"


@dataclass(frozen=True)
class Order:
    """What the parent sends a worker (pickled, on its stdin)."""

    strategy: type[Strategy]
    scenario: Scenario
    repeat: int
    index: int
    count: int
    tag: str
    base_url: str
    transport: str
    #: A configured strategy (bench.params) travels as its base class and these values: the configured
    #: subclass is made at run time and cannot be pickled by name.
    params: tuple[tuple[str, object], ...] = ()

    def strategy_class(self) -> type[Strategy]:
        return configured(self.strategy, dict(self.params)) if self.params else self.strategy  # type: ignore[arg-type]

    @classmethod
    def of(cls, strategy: type[Strategy], *rest: Any) -> Order:
        """An order for ``strategy``, configured or not."""
        values = tuple(strategy.param_values.items())
        return replace(cls(strategy.__bases__[0] if values else strategy, *rest), params=values)


def usage_error(processes: int, clock: str, kind: str) -> str | None:
    """Why ``--processes processes`` cannot run with this clock and scenario kind, or ``None``.

    >>> usage_error(4, "virtual", "comparison")
    '--processes 4: real clock only (N client processes are N event loops; the virtual clock is one)'
    >>> usage_error(1, "real", "multi-process") is not None
    True
    """
    if not 1 <= processes <= MAX_PROCESSES:
        return f"--processes: must be 1..{MAX_PROCESSES}, got {processes}"
    if processes > 1 and clock != "real":
        return (f"--processes {processes}: real clock only (N client processes are N event loops; "
                f"the virtual clock is one)")
    if processes < 2 and kind == MULTI_PROCESS_KIND:
        return ("this scenario is multi-process (kind = \"multi-process\"): give --processes N with N >= 2, "
                "e.g. --processes 4")
    return None


class _SharedServer:
    """A worker's view of the run's mock server: requests go to it, but the parent owns its state (reset) and
    reads its log, once, for all processes."""

    name = "http"

    def __init__(self, base_url: str, transport: str) -> None:
        self.base_url = base_url
        self.transport = transport

    @contextlib.asynccontextmanager
    async def client(self, limits: httpx.Limits | None = None) -> AsyncIterator[httpx.AsyncClient]:
        async with TRANSPORTS[self.transport](self.base_url, limits) as c:
            yield c

    async def reset(self, config: ServerConfig) -> int | None:
        return None

    async def arrivals(self) -> ServerLog:
        return ServerLog([], 0, "memory")  # the parent joins the log; nothing to join here


def _worker() -> int:
    """``python -m bench.multiprocess``: one client process of a run (the parent starts it)."""
    die_with_parent()

    def interrupt_once(signum: int, frame: object) -> None:
        # A terminal's Ctrl-C reaches this process and the parent, which then sends its own SIGINT: one stop, so
        # that the second signal does not break the hand-over of what the first one saved.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt_once)
    out = os.fdopen(int(os.environ[_FD_ENV]), "wb")
    order: Order = pickle.load(sys.stdin.buffer)  # our parent's pickle, on a pipe only it holds

    async def start() -> int:
        out.write(b"R")  # ready: strategy built, client open
        out.flush()
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.readline)
        if not line.strip():
            raise RuntimeError("the parent closed the start line: the run was abandoned")
        t0_ns = int(line)
        await asyncio.sleep(max(0.0, (t0_ns - time.monotonic_ns()) / 1e9))
        return t0_ns

    share = Share(order.index, order.count, order.tag, start)
    cpu0 = time.process_time()

    def run_share(cls: type[Strategy], scenario: Scenario, server: Any, repeat: int) -> Coroutine[Any, Any, RunResult]:
        return run_one(cls, scenario, server, repeat, share)

    try:
        # Under the watchdog, as a one-process run: a SIGINT (the parent's, or a terminal's Ctrl-C) stops the run
        # and hands over what it measured (watchdog.Interrupted), instead of losing this process's records.
        result: RunResult | str = watchdog.run(run_share, order.strategy_class(), order.scenario,
                                               _SharedServer(order.base_url, order.transport), order.repeat,
                                               virtual=False).result
    except watchdog.Interrupted as e:
        result = e.partial
    except BaseException:  # reported to the parent as this process's failure
        result = "".join(traceback.format_exc()).strip()
    pickle.dump((result, time.process_time() - cpu0), out)
    out.close()
    return 0


@dataclass
class _Child:
    index: int
    proc: subprocess.Popen[bytes]
    reader: IO[bytes]
    stderr: IO[bytes]
    data: bytes = b""
    ready: bool = False
    eof: bool = False

    def why(self) -> str:
        self.stderr.seek(0)
        said = self.stderr.read().decode(errors="replace").strip()
        return said[-800:] if said else f"exit status {self.proc.poll()}"


def _spawn(order: Order) -> _Child:
    r, w = os.pipe()
    err = tempfile.TemporaryFile()  # noqa: SIM115  # closed by _stop, with the worker
    env = {**os.environ, PARENT_ENV: str(os.getpid()), _FD_ENV: str(w)}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "bench.multiprocess"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=err, pass_fds=(w,), env=env)
    except BaseException:
        os.close(r)
        err.close()
        raise
    finally:
        os.close(w)
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps(order))
    proc.stdin.flush()
    return _Child(order.index, proc, os.fdopen(r, "rb", buffering=0), err)


def _pump(children: Sequence[_Child], until: str, deadline: float) -> None:
    """Read what the workers send until each is ``ready`` (sent its byte) or at ``eof``, or the deadline."""
    sel = selectors.DefaultSelector()
    try:
        for c in children:
            if not c.eof and not (until == "ready" and c.ready):
                sel.register(c.reader, selectors.EVENT_READ, c)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for key, _ in sel.select(left):
                c = key.data
                chunk = os.read(c.reader.fileno(), 1 << 16)
                if not chunk:
                    c.eof = True
                    sel.unregister(c.reader)
                    continue
                if not c.ready:
                    c.ready, chunk = chunk[:1] == b"R", chunk[1:]
                c.data += chunk
                if until == "ready" and c.ready:
                    sel.unregister(c.reader)
    finally:
        sel.close()


def _stop(children: Sequence[_Child]) -> None:
    for c in children:
        if c.proc.poll() is None:
            c.proc.kill()
        c.proc.wait()
        for f in (c.reader, c.stderr):
            f.close()
        if c.proc.stdin is not None:
            with contextlib.suppress(OSError):
                c.proc.stdin.close()


def run(strategy_cls: type[Strategy], scenario: Scenario, server: RealServer, repeat: int, processes: int
        ) -> RunResult:
    """One run split across ``processes`` client processes (module doc); call from the main thread (the
    workers' ``PR_SET_PDEATHSIG`` watches the thread that started them)."""
    if not 2 <= processes <= MAX_PROCESSES:
        raise ValueError(f"processes: must be 2..{MAX_PROCESSES}, got {processes}")
    generation = asyncio.run(server.reset(scenario.server))
    tag = "." + secrets.token_hex(4)
    wall0 = time.clock_gettime(time.CLOCK_MONOTONIC)
    children: list[_Child] = []
    t0_ns: int | None = None
    try:
        for k in range(processes):
            children.append(_spawn(Order.of(strategy_cls, scenario, repeat, k, processes, tag, server.base_url,
                                            server.transport)))
        _pump(children, "ready", time.monotonic() + READY_TIMEOUT_S)
        late = [c for c in children if not c.ready]
        if late:
            raise _Abandon("; ".join(f"process {c.index} did not get ready: {c.why()}" for c in late))
        t0_ns = time.monotonic_ns() + int(START_MARGIN_S * 1e9)
        for c in children:
            assert c.proc.stdin is not None
            c.proc.stdin.write(b"%d\n" % t0_ns)
            c.proc.stdin.flush()
        # Each worker ends its own run at timeout_s (run_one); the margin covers its start and its hand-over.
        _pump(children, "eof", time.monotonic() + START_MARGIN_S + scenario.timeout_s + HANDOVER_S)
        parts = [_part(c, "did not finish within the run's timeout: killed") for c in children]
    except _Abandon as e:
        _stop(children)
        return _merge(strategy_cls, scenario, server, repeat, processes, tag, generation, None,
                      [str(e)] * processes, time.clock_gettime(time.CLOCK_MONOTONIC) - wall0, [])
    except KeyboardInterrupt:  # a signal: the workers hand over what they measured, and the run is kept as partial
        parts = _hand_over(children)
        _stop(children)
        raise watchdog.Interrupted(_interrupted(strategy_cls, scenario, server, repeat, processes, tag, generation,
                                                t0_ns, wall0, [c.proc.pid for c in children], parts)) from None
    finally:
        _stop(children)  # by PID; interrupted or not
    wall_s = time.clock_gettime(time.CLOCK_MONOTONIC) - wall0
    return _merge(strategy_cls, scenario, server, repeat, processes, tag, generation, t0_ns, parts, wall_s,
                  [c.proc.pid for c in children])


class _Abandon(Exception):
    pass


def _part(c: _Child, unfinished: str) -> tuple[RunResult | str, float] | str:
    """What worker ``c`` handed over: its (result, CPU seconds), or why there is none."""
    if not c.eof:
        return f"process {c.index} {unfinished}"
    try:
        part: tuple[RunResult | str, float] = pickle.loads(c.data)
        return part
    except Exception:
        return f"process {c.index} ended without its result: {c.why()}"


def _hand_over(children: Sequence[_Child]) -> list[tuple[RunResult | str, float] | str]:
    """After a signal: SIGINT every worker still running (a Ctrl-C in a terminal has reached them already, a
    SIGTERM to this process has not), so that its watchdog stops its run and hands the partial result over;
    what is not handed over within :data:`INTERRUPT_HANDOVER_S` is missing (the caller kills them)."""
    for c in children:
        if c.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                c.proc.send_signal(signal.SIGINT)
    _pump(children, "eof", time.monotonic() + INTERRUPT_HANDOVER_S)
    return [_part(c, f"did not hand its records over within {INTERRUPT_HANDOVER_S:g} s of the signal: killed")
            for c in children]


def _interrupted(strategy_cls: type[Strategy], scenario: Scenario, server: RealServer, repeat: int, processes: int,
                 tag: str, generation: int | None, t0_ns: int | None, wall0: float, pids: Sequence[int],
                 parts: Sequence[tuple[RunResult | str, float] | str]) -> RunResult:
    """The run a signal stopped, as a partial row (``interrupted``): the records the workers handed over, joined
    with the server's log, which holds every request they sent (told apart by the run's tag) even from a worker
    that handed nothing over."""
    handed = sum(1 for p in parts if isinstance(p, tuple) and isinstance(p[0], RunResult))
    partial = _merge(strategy_cls, scenario, server, repeat, processes, tag, generation, t0_ns, parts,
                     time.clock_gettime(time.CLOCK_MONOTONIC) - wall0, pids)
    missing = [p for p in parts if not (isinstance(p, tuple) and isinstance(p[0], RunResult))]
    error = "; ".join([f"interrupted by a signal: the run was stopped and is partial ({handed} of {processes} "
                       f"processes handed their records over; the server logged {len(partial.arrivals)} requests)",
                       *(str(m) for m in missing)])
    return replace(partial, status="interrupted", error=error,
                   processes=tuple(p | {"status": "interrupted"} if p["status"] != "interrupted" else p
                                   for p in partial.processes))


_SEVERITY = {"ok": 0, "timeout": 1, "failed": 2, "interrupted": 3}


def _merge(strategy_cls: type[Strategy], scenario: Scenario, server: RealServer, repeat: int, processes: int,
           tag: str, generation: int | None, t0_ns: int | None, parts: Sequence[tuple[RunResult | str, float] | str],
           wall_s: float, pids: Sequence[int]) -> RunResult:
    status, errors, cpu = "ok", [], 0.0
    mine: list[list[Attempt]] = [[] for _ in range(processes)]
    results: list[RunResult | None] = []
    for k, part in enumerate(parts):
        r: RunResult | None = None
        if isinstance(part, tuple):
            got, cpu_k = part
            cpu += cpu_k
            if isinstance(got, RunResult):
                r = got
            else:
                errors.append(f"process {k}: {got.splitlines()[-1] if got else 'failed'}")
                status = "failed"
        else:
            errors.append(part)
            status = "failed"
        results.append(r)
        if r is not None:
            mine[k] = list(r.attempts)
            if _SEVERITY.get(r.status, 2) > _SEVERITY[status]:
                status = r.status
            if r.error:
                errors.append(f"process {k}: {r.error}")
    if t0_ns is None:
        t0_ns = 0
    log = asyncio.run(server.arrivals())
    arrivals = tuple(replace(a, t_ns=a.t_ns - t0_ns) for a in log.arrivals)
    by_id = {a.request_id: a.t_ns for a in arrivals}
    # The run's own by its tag, which nobody else can guess: a process that died without handing its records
    # over still sent them, and they are not foreign traffic.
    foreign = sum(1 for a in arrivals if not a.request_id.endswith(tag))
    outside = log.generation - generation if log.generation is not None and generation is not None else 0
    if not log.complete:
        errors.append(f"server log incomplete ({log.dropped} arrivals dropped): burst metrics withheld")
    if outside:
        errors.append(f"the server was reset from outside during the run ({outside}x): burst metrics withheld")
    judged = log.complete and not outside

    def joined(a: Attempt) -> Attempt:
        ns = by_id.get(request_id(a.job, a.attempt, tag))
        return replace(a, arrival_s=None if ns is None else ticks.to_seconds(ns), arrival_ns=ns)

    enforced = tuple(Tier(q.limit, q.window_s, q.unit) for q in scenario.server.quota)
    rejected = {429, scenario.server.headers.reject_status}
    jobs = scenario.workload.jobs
    per: list[dict[str, object]] = []
    everything: list[Attempt] = []
    for k in range(processes):
        attempts = sorted((joined(a) for a in mine[k]), key=lambda a: (a.sent_s, a.job, a.attempt))
        everything += attempts
        own_k = {request_id(a.job, a.attempt, tag) for a in attempts}
        arrivals_k = [a for a in arrivals if a.request_id in own_k]
        r = results[k]
        handed = parts[k]
        cpu_of_k = handed[1] if isinstance(handed, tuple) else None
        m = metrics.compute(attempts, arrivals_k if judged else None, enforced, requests=len(range(k, jobs, processes)),
                            cpu_s=cpu_of_k, oracle_makespan_s=None, rejected=rejected).to_dict()
        per.append({"process": k, "pid": pids[k] if k < len(pids) else None,
                    "status": r.status if r is not None else "failed",
                    **{f: m[f] for f in FIGURES}, "wall_s": r.wall_s if r is not None else None})
    everything.sort(key=lambda a: (a.sent_s, a.job, a.attempt))
    oracle = oracle_makespan(scenario, t0_ns)
    m_all = metrics.compute(everything, arrivals if judged else None, enforced, requests=jobs,
                            cpu_s=cpu, oracle_makespan_s=oracle, rejected=rejected,
                            # Compliance by the API's own rule, as for one process (bench.compliance).
                            judge=None if t0_ns is None else compliance.judge(scenario.server, t0_ns),
                            judge_origin_ns=t0_ns or 0)
    if (withheld := metrics.efficiency_note(m_all, oracle)) is not None:
        errors.append(withheld)
    return RunResult(strategy_cls.name, repeat, status, "; ".join(errors) or None, tuple(everything), arrivals, m_all,
                     wall_s, foreign, outside, None, tag=tag, processes=tuple(per))


def main() -> int:
    """The worker's entry point (the parent runs ``python -m bench.multiprocess`` with a pickled :class:`Order`
    on its stdin): not a command for people."""
    return _worker()


if __name__ == "__main__":
    sys.exit(main())

