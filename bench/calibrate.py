"""``python -m bench calibrate``: measure this machine's delays and timer lateness into a profile.

Three measurements, all with what a real run uses (the runner's ``send`` and ``RealServer.client()``
against the mock server in a child process, and a plain asyncio loop):

1. **Delays.** A probe "strategy" sends requests one at a time, then in bursts of 4 to 128, to a
   server with no quota and zero latency. Per attempt: ``arrival_s − sent_s`` (client → server),
   grouped by how many attempts were on their way to the server when it was sent (a burst's k-th
   send queues behind k − 1 others: the later, the slower), and
   ``done_s − arrival_s`` (server → client), by how many answers were on their way back when the
   server answered it (``LEVELS``; both counts include the attempt itself).
2. **Timers.** ``loop.call_at`` at ``k`` ms + ``u`` (``u`` in 0.1–0.9 ms) after now, on an idle loop,
   for ``k`` from 0 to 199 (``TIMER_PLAN``); the lateness is the time the callback ran minus the due
   time. The selector sleeps whole milliseconds rounded up (epoll), so the *slack* — how much later
   than ``(k + 1)`` ms after arming the callback ran — is what the virtual loop adds
   (``bench.netmodel.TimerModel``), by the length of the sleep (the kernel's allowance grows with it).
3. **Check.** ``TokenBucket(1000, capacity=1)``'s real rate (``bench.timer_rate``), kept in the profile
   so a test can hold the virtual figure to it.

The profile is JSON (``bench.netmodel.FORMAT``, version ``VERSION``) of 101-point quantile tables in
integer microseconds. Bounded: about 15–30 s.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import os
import platform
import random
import selectors
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from bench import netmodel, scenarios, timer_rate
from bench.records import Attempt
from bench.runner import run_one
from bench.transport import RealServer
from strategies.base import Jobs, Send, Strategy

__all__ = ["LEVELS", "calibrate", "main", "receiving_at_answer", "sending_at_send"]

#: Load levels (attempts in flight at send, itself included) that get their own delay tables.
LEVELS = (1, 2, 4, 8, 16, 32, 64)
#: Probe plan: (burst size, bursts). The k-th send of a burst waits behind k − 1 others, so each
#: level's table holds the sends at that depth; bursts of 128 fill the last table (above 64).
PLAN = ((1, 300), (4, 50), (16, 20), (64, 8), (128, 3))
PAUSE_S = 0.01
#: Single requests sent first and not recorded: the connection's set-up and first-use costs are not a
#: run's steady state (they made the 1 % tail of the idle table tens of milliseconds).
WARMUP = 20
#: Timer plan: (largest rounded sleep in µs of the level, whole ms k to draw from, samples). ~11 s.
TIMER_PLAN = ((1000, (0,), 400), (2000, (1,), 400), (5000, (2, 3, 4), 300), (20000, tuple(range(5, 20)), 150),
              (100000, tuple(range(20, 100)), 60), (200000, tuple(range(100, 200)), 20))


class _Probe(Strategy):
    """Sends the calibration plan: sequentially, then in bursts, waiting for each burst to finish."""

    name = "calibration-probe"
    description = "calibration: single requests, then bursts of 4 to 128"
    plan: ClassVar[tuple[tuple[int, int], ...]] = PLAN

    async def run(self, jobs: Jobs, send: Send) -> None:
        pending = [j async for j in jobs]
        for size, count in ((1, WARMUP), *self.plan):
            for _ in range(count):
                batch, pending = pending[:size], pending[size:]
                if not batch:
                    return
                await asyncio.gather(*(send(j) for j in batch))
                await asyncio.sleep(PAUSE_S)


def _group_sizes(plan: Sequence[tuple[int, int]]) -> list[int]:
    """Per job id, the size of the burst it is sent in (warm-up included, as 1)."""
    return [1] * WARMUP + [size for size, count in plan for _ in range(size * count)]


def _jobs(plan: Sequence[tuple[int, int]]) -> int:
    return WARMUP + sum(size * count for size, count in plan)


def sending_at_send(attempts: Sequence[Attempt]) -> list[int]:
    """For each attempt, how many attempts were on their way to the server (sent, not yet arrived)
    at its ``sent_s``, itself included.

        >>> a = [Attempt(0, 1, 0.0, 0.0, 0.3, 1.0, 200), Attempt(1, 1, 0.0, 0.1, 0.2, 0.7, 200),
        ...      Attempt(2, 1, 0.0, 0.5, 0.6, 1.2, 200)]
        >>> sending_at_send(a)
        [1, 2, 1]
    """
    return [sum(1 for b in attempts if b is a or (b.arrival_s is not None and b.sent_s <= a.sent_s < b.arrival_s))
            for a in attempts]


def receiving_at_answer(attempts: Sequence[Attempt]) -> list[int]:
    """For each attempt, how many answers were on their way back (arrived, not yet done) when it
    arrived (a zero-latency server answers at once), itself included.

        >>> a = [Attempt(0, 1, 0.0, 0.0, 0.3, 1.0, 200), Attempt(1, 1, 0.0, 0.1, 0.2, 0.7, 200),
        ...      Attempt(2, 1, 0.0, 0.5, 0.6, 1.2, 200)]
        >>> receiving_at_answer(a)
        [2, 1, 3]
    """
    out = []
    for a in attempts:
        t = a.arrival_s
        out.append(sum(1 for b in attempts if b is a or (t is not None and b.arrival_s is not None
                                                         and b.arrival_s <= t < b.done_s)))
    return out


def _level_tables(samples: Sequence[tuple[int, float]], levels: Sequence[int] = LEVELS) -> dict[str, Any]:
    groups: list[list[float]] = [[] for _ in range(len(levels) + 1)]
    for load, value in samples:
        i = next((k for k, top in enumerate(levels) if load <= top), len(levels))
        groups[i].append(value)
    # A level without samples borrows the nearest lower one (the probe plan fills all of them).
    for i, g in enumerate(groups):
        if not g:
            groups[i] = groups[i - 1] if i else next(x for x in groups if x)
    return {"levels": list(levels), "counts": [len(g) for g in groups],
            "quantiles_us": [list(netmodel.Quantiles.of(g).us) for g in groups]}


async def _delays(server: RealServer, plan: Sequence[tuple[int, int]]) -> tuple[dict[str, Any], dict[str, Any]]:
    class Probe(_Probe):
        pass

    Probe.plan = tuple(plan)
    scenario = scenarios.from_dict({"server": {"latency_ms": 0}, "workload": {"jobs": _jobs(plan)},
                                    "client": {"concurrency": 1000, "timeout_s": 120},
                                    # A real run: and calibration must work when no valid profile exists yet.
                                    "virtual": {"profile": "none"}}, "calibrate")
    result = await run_one(Probe, scenario, server)
    if result.status != "ok":
        raise RuntimeError(f"calibration probe did not finish: {result.status} {result.error}")
    joined = [a for a in result.attempts if a.arrival_s is not None and a.status == 200]
    if len(joined) < len(result.attempts) * 0.99:
        raise RuntimeError(f"calibration: only {len(joined)} of {len(result.attempts)} attempts joined the log")
    group = _group_sizes(plan)
    joined = [a for a in joined if a.job >= WARMUP]  # job ids follow the plan's order
    # The head of a burst counts 1 on its way but waits for its siblings' CPU work in the same loop turn:
    # it is not a lone request, and would put the burst's delays into the idle table.
    send = [(n, a.arrival_s - a.sent_s) for n, a in zip(sending_at_send(joined), joined, strict=True)
            if a.arrival_s is not None and not (n == 1 and group[a.job] > 1)]
    resp = [(n, a.done_s - a.arrival_s) for n, a in zip(receiving_at_answer(joined), joined, strict=True)
            if a.arrival_s is not None]
    return _level_tables(send), _level_tables(resp)


def granularity_us() -> int:
    """The default selector's sleep unit: epoll and poll take whole milliseconds (CPython rounds up),
    select takes microseconds, kqueue nanoseconds."""
    name = selectors.DefaultSelector.__name__
    return {"EpollSelector": 1000, "PollSelector": 1000, "DevpollSelector": 1000, "SelectSelector": 1}.get(name, 0)


def _stamp(fut: asyncio.Future[float], loop: asyncio.AbstractEventLoop) -> None:
    fut.set_result(loop.time())


def timer_delays(rng: random.Random, plan: Sequence[tuple[int, tuple[int, ...], int]] = TIMER_PLAN,
                 scale: float = 1.0) -> list[float]:
    """The calibration's timer delays in seconds, level by level (``scale`` < 1: fewer samples)."""
    return [rng.choice(ks) * 1e-3 + rng.uniform(1e-4, 9e-4)
            for _, ks, n in plan for _ in range(max(2, round(n * scale)))]


async def _timers(delays: Sequence[float], gran_us: int) -> tuple[list[float], list[tuple[int, float]]]:
    """Lateness (s) per timer, and (rounded sleep in µs, slack in s) per timer, on this (idle) loop."""
    loop = asyncio.get_running_loop()
    lateness, slack = [], []
    for delay in delays:
        fut: asyncio.Future[float] = loop.create_future()
        armed = loop.time()
        due = armed + delay
        loop.call_at(due, _stamp, fut, loop)
        ran = await fut
        lateness.append(ran - due)
        # What the selector was asked to sleep, rounded up to its unit; the rest is slack.
        rounded_us = math.ceil(delay * 1e6 / gran_us) * gran_us if gran_us else round(delay * 1e6)
        slack.append((rounded_us, ran - armed - rounded_us / 1e6))
    return lateness, slack


async def _measure(server: RealServer, plan: Sequence[tuple[int, int]], timer_scale: float,
                   seed: int) -> dict[str, Any]:
    send, response = await _delays(server, plan)
    gran = granularity_us()
    lateness, slack = await _timers(timer_delays(random.Random(seed), scale=timer_scale), gran)
    negative = sum(1 for _, s in slack if s < -50e-6) / len(slack)
    return {"send": send, "response": response,
            "timer": {"granularity_us": gran, "samples": len(slack),
                      "slack": _level_tables(slack, tuple(level for level, _, _ in TIMER_PLAN[:-1])),
                      "lateness_us": list(netmodel.Quantiles.of(lateness).us),
                      "negative_slack_fraction": round(negative, 4),
                      "seed": seed, "scale": timer_scale,
                      "delays": "k ms + U(0.1, 0.9) ms, k per level: bench.calibrate.TIMER_PLAN"}}


def calibrate(*, plan: Sequence[tuple[int, int]] = PLAN, timer_scale: float = 1.0,
              token_repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    """Measure and return the profile document (JSON-ready)."""
    with RealServer() as server:
        measured = asyncio.run(_measure(server, plan, timer_scale, seed))
    fractions = [timer_rate.real_fraction(1000, 1000) for _ in range(token_repeats)]
    return {
        "format": netmodel.FORMAT,
        "version": netmodel.VERSION,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
                    "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None},
        "client": "RealServer.client()",
        "probe": {"warmup": WARMUP, "plan": [list(p) for p in plan], "pause_s": PAUSE_S, "server_latency_ms": 0},
        **measured,
        "checks": {"token_bucket_1000_capacity_1": {"real_fraction": round(statistics.median(fractions), 4),
                                                     "runs": [round(f, 4) for f in fractions],
                                                     "tokens": 1000}},
    }


def _unwritable(path: Path) -> str | None:
    """Why a new file cannot be created at ``path`` (its directory made if need be), else ``None``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"{path.parent} is not a directory"
    except OSError as e:
        return f"its directory cannot be made: {e.strerror or e}"
    try:  # a real attempt: permission bits say nothing for root, or on /proc and read-only mounts
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".ratebench-probe-"):
            pass
    except OSError as e:
        return f"{path.parent} is not writable: {e.strerror or e}"
    return None


def main(out: str | None, quick: bool = False) -> int:
    """The ``calibrate`` subcommand: measure, write the profile (never over an existing file), summarise."""
    path = Path(out) if out else Path("results") / f"profile-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    if path.exists():
        print(f"ratebench: {path} exists; profiles are never overwritten (choose another --out)", file=sys.stderr)
        return 2
    # Before measuring for seconds: a profile that cannot be written would be lost at the end.
    if (unwritable := _unwritable(path)) is not None:
        print(f"ratebench: --out {path}: cannot write the profile there ({unwritable})", file=sys.stderr)
        return 2
    plan = tuple((s, max(1, c // 5)) for s, c in PLAN) if quick else PLAN
    scale = 0.2 if quick else 1.0
    print(f"ratebench: calibrating against the real mock server ({_jobs(plan)} requests, "
          f"{len(timer_delays(random.Random(0), scale=scale))} timers) …", file=sys.stderr)
    doc = calibrate(plan=plan, timer_scale=scale, token_repeats=1 if quick else 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x") as f:
        f.write(json.dumps(doc, indent=1) + "\n")
    profile = netmodel.parse_profile(doc, path.stem, str(path))
    print(summary(profile))
    print(f"\nprofile: {path}")
    return 0


def summary(profile: netmodel.Profile) -> str:
    """Medians and p99 of each table, in ms."""
    def q(t: netmodel.Quantiles) -> str:
        return f"p50 {t.at(0.5) / 1000:6.3f}  p90 {t.at(0.9) / 1000:6.3f}  p99 {t.at(0.99) / 1000:6.3f} ms"

    lines = []
    for name, lv in (("client→server", profile.send), ("server→client", profile.response)):
        bounds = ["1", *(f"{a + 1}–{b}" if b > a + 1 else str(b) for a, b in zip(lv.levels, lv.levels[1:],
                                                                                     strict=False)),
                  f">{lv.levels[-1]}"]
        for label, t in zip(bounds, lv.tables, strict=True):
            lines.append(f"{name:<14} {label:>6} in this leg: {q(t)}")
    sl = profile.slack
    for top, t in zip((*sl.levels, None), sl.tables, strict=True):
        label = f"≤ {top / 1000:g} ms" if top is not None else f"> {sl.levels[-1] / 1000:g} ms"
        lines.append(f"timer slack, sleep {label:>9}: {q(t)}")
    check = profile.checks.get("token_bucket_1000_capacity_1", {})
    if "real_fraction" in check:
        lines.append(f"TokenBucket(1000, capacity=1) on a real loop: {check['real_fraction']:.1%} of its rate")
    return "\n".join(lines)
