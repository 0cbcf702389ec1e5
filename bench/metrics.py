"""The metrics of docs/metrics.md, as pure functions over one run's records (no I/O, no clock).

Inputs are the client's per-attempt records (:class:`bench.records.Attempt`), the server's arrival log
(:class:`mock_server.log.Arrival`, times already relative to run start) and the declared quota tiers.
Times are seconds; the ``*_ms`` metrics are milliseconds. The window counts and the oracle count integer
nanoseconds (:mod:`mock_server.ticks`), the server's own ticks, so they judge exactly as it does. A
metric that is undefined for a run (an empty run, a zero denominator, an incomplete run's efficiency)
is ``None``; counts are never ``None``.
See docs/metrics.md for the definitions, edge cases and the reasons behind them.

>>> from bench.records import Attempt
>>> from strategies.base import Tier
>>> from mock_server.log import Arrival
>>> atts = [Attempt(0, 1, 0.0, 0.0, 0.001, 0.010, 429), Attempt(0, 2, 0.0, 0.5, 0.501, 0.510, 200)]
>>> arrs = [Arrival("a", 1_000_000, 429), Arrival("b", 501_000_000, 200)]
>>> m = compute(atts, arrs, [Tier(1, 1.0)], requests=1, cpu_s=0.002, oracle_makespan_s=0.01)
>>> m.succeeded, m.attempts, m.throttled, m.peak_window_count, m.burst_ratio, m.latency_max_ms
(1, 2, 1, (2,), 2.0, 510.0)
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bench import compliance
from bench.columns import ArrivalColumns, AttemptColumns
from bench.records import CANCELLED, Attempt
from mock_server import ticks
from mock_server.log import Arrival
from strategies.base import Tier

__all__ = [
    "Admission",
    "Deciding",
    "Metrics",
    "client_peak_window_count",
    "compute",
    "efficiency_note",
    "first_window_count",
    "first_window_count_ns",
    "loop_lag_ms",
    "oracle_makespan",
    "peak_concurrency",
    "peak_window_count",
    "peak_window_count_ns",
    "percentile",
    "window_phase_s",
]


# --------------------------------------------------------------------------------------------------
# Building blocks


def percentile(values: Iterable[float], p: float) -> float | None:
    """The ``p``-th percentile (``0 <= p <= 100``) by linear interpolation between closest ranks.

    Sort the ``n`` values as ``v[0..n-1]``; the rank is ``h = (n - 1) * p / 100``; the result is
    ``v[floor(h)] + (h - floor(h)) * (v[floor(h) + 1] - v[floor(h)])``. This is numpy's default
    (``method="linear"``) and ``statistics.quantiles(..., method="inclusive")``: p0 is the minimum,
    p100 the maximum, and no value outside the data is ever reported. ``None`` for no values.

    >>> percentile([10, 20, 30, 40], 50)
    25.0
    >>> percentile([10, 20, 30, 40], 100), percentile([7], 99), percentile([], 50)
    (40.0, 7.0, None)
    """
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile: p must be in [0, 100], got {p!r}")
    v = sorted(values)
    if not v:
        return None
    h = (len(v) - 1) * p / 100.0
    lo = math.floor(h)
    frac = h - lo
    if frac == 0.0 or lo + 1 >= len(v):
        return float(v[lo])
    return float(v[lo] + frac * (v[lo + 1] - v[lo]))


def peak_window_count_ns(times_ns: Iterable[int], window_ns: int, weights: Iterable[int] | None = None) -> int:
    """The most ``times_ns`` in any half-open window ``[t, t + window_ns)``, all in integer ticks.

    With ``weights`` (one per time, e.g. each arrival's cost for a ``unit = "tokens"`` tier), the
    largest *sum of weights* in any such window instead of the count.

    Membership: ``a`` is in the window that starts at ``s`` iff ``s <= a < s + window_ns``, compared
    exactly, as the server's policies compare (an entry exactly ``window_ns`` old has left). The maximum
    is attained by a window starting at a time in the input; a two-pointer sweep over the sorted times
    finds it in O(n) after sorting. 0 for no times.

    >>> S = 1_000_000_000
    >>> peak_window_count_ns([0, S], S)  # S is not in [0, S)
    1
    >>> peak_window_count_ns([140_000_000, 1_140_000_000], S)  # 0.14 s and 1.14 s: one window apart
    1
    >>> peak_window_count_ns([0, S // 2, S], S, weights=[300, 500, 100])  # 300 + 500, then 500 + 100
    800
    """
    if not window_ns > 0:
        raise ValueError(f"peak_window_count: window must be > 0, got {window_ns!r}")
    if weights is not None:
        pairs = sorted(zip(times_ns, weights, strict=True))
        best = total = 0
        i = 0
        for t, w in pairs:
            total += w
            while pairs[i][0] + window_ns <= t:
                total -= pairs[i][1]
                i += 1
            best = max(best, total)
        return best
    ts = sorted(times_ns)
    best = 0
    i = 0
    for j, t in enumerate(ts):
        while ts[i] + window_ns <= t:  # ts[i] has left the window that ends just after t
            i += 1
        best = max(best, j - i + 1)
    return best


def first_window_count_ns(times_ns: Iterable[int], window_ns: int, weights: Iterable[int] | None = None) -> int:
    """How many ``times_ns`` lie in ``[first, first + window_ns)``, ``first`` being the earliest (with
    ``weights``: the sum of their weights). Same membership rule as :func:`peak_window_count_ns`. 0 for
    no times.

    >>> first_window_count_ns([200, 400, 1_200, 1_300], 1_000), first_window_count_ns([200, 400], 1_000, [5, 7])
    (2, 12)
    """
    if not window_ns > 0:
        raise ValueError(f"first_window_count: window must be > 0, got {window_ns!r}")
    ts = list(times_ns)
    if not ts:
        return 0
    end = min(ts) + window_ns
    if weights is not None:
        return sum(w for t, w in zip(ts, weights, strict=True) if t < end)
    return sum(1 for t in ts if t < end)


def peak_window_count(times: Iterable[float], window_s: float) -> int:
    """:func:`peak_window_count_ns` for times and window in seconds, each converted to integer ns first
    (:func:`mock_server.ticks.from_seconds`), so ``0.14`` and ``1.14`` are exactly one window apart.

    >>> peak_window_count([0.0, 1.0], 1.0), peak_window_count([0.14, 1.14], 1.0)
    (1, 1)
    >>> peak_window_count([0.0, 0.5, 0.999, 1.2], 1.0)
    3
    """
    return peak_window_count_ns((ticks.from_seconds(t) for t in times), ticks.from_seconds(window_s))


def first_window_count(times: Iterable[float], window_s: float) -> int:
    """:func:`first_window_count_ns` in seconds (converted to integer ns first).

    >>> first_window_count([0.2, 0.4, 1.2, 1.3], 1.0)
    2
    """
    return first_window_count_ns((ticks.from_seconds(t) for t in times), ticks.from_seconds(window_s))


def peak_concurrency(arrivals: Iterable[Arrival]) -> int:
    """Most requests in flight at the server at once: the largest ``in_flight`` it logged; 0 for none.

    >>> peak_concurrency([Arrival("a", 0, 200, in_flight=1), Arrival("b", 100_000_000, 200, in_flight=3)])
    3
    """
    return max((a.in_flight for a in arrivals), default=0)


class _Decision(Protocol):
    @property
    def allowed(self) -> bool: ...


@runtime_checkable
class Admission(Protocol):
    """A single policy the oracle can drive: ``SlidingLog`` and every per-tier algorithm (times in ns)."""

    def earliest(self, now: int, n: int = 1) -> int:
        """The earliest instant >= ``now`` at which ``n`` units would be accepted."""
        ...

    def record(self, now: int, n: int = 1) -> None:
        """Count ``n`` accepted units at ``now``."""
        ...


@runtime_checkable
class Deciding(Protocol):
    """A composite policy the oracle can drive: ``Tiered`` (``decide`` checks and records at once)."""

    def earliest(self, now: int, cost: int = 1) -> int:
        """The earliest instant >= ``now`` at which a request of ``cost`` would be accepted."""
        ...

    def decide(self, now: int, cost: int = 1) -> _Decision:
        """Accept (and count) or reject a request of ``cost`` at ``now``."""
        ...


def oracle_makespan(
    release_ns: Iterable[int], policy: Admission | Deciding, latency_ns: int,
    costs: Iterable[int] | None = None, latency_per_unit_ns: int = 0,
) -> int | None:
    """Makespan of the oracle client, in integer ns: it sends each job at the earliest instant, not
    before the job's release, that ``policy`` would accept it, and never gets a 429.

    Jobs go in release order; each is sent at ``t = policy.earliest(max(release, previous t))`` and
    counted there, with ``policy.record(t)`` (or ``policy.decide(t)`` for a ``Tiered`` policy, which
    must then accept). The result is ``last t + latency_ns - first release``: measured from the first
    release (= run start, 0, in every workload the runner builds), the same origin as the actual
    makespan in :func:`compute`. ``latency_ns`` is the server's fixed service time. Everything is in
    the server's integer ticks, so the oracle's "earliest" is exactly the server's.

    ``policy`` must be fresh (built from the same quota as the run's server, e.g.
    ``mock_server.policies.build(...)``) and is consumed: counting mutates it. Anything with
    ``earliest(now)`` and ``record(now)`` or ``decide(now)`` works, so every future algorithm plugs
    in unchanged. ``None`` for no jobs.

    Weighted jobs (``costs``, one per release, in the same order): each is sent at
    ``policy.earliest(max(release, previous t), cost)`` and counted with its cost (a ``"tokens"`` tier
    counts the cost, a ``"requests"`` tier 1); its response comes ``latency_ns + cost *
    latency_per_unit_ns`` later, and the makespan ends at the latest response. This oracle keeps
    release order (a client could finish sooner by reordering jobs of different costs; none of ours
    does), so it is the fastest *in-order* schedule.

    >>> from mock_server.policies import SlidingLog, Tiered
    >>> S = 1_000_000_000  # 10 tokens per second; costs 6, 6, 3 go at 0, 1 s (6 left), 1 s
    >>> oracle_makespan([0] * 3, Tiered([SlidingLog(10, S, unit="tokens")]), 0, costs=[6, 6, 3])
    1000000000

    >>> from mock_server.policies import SlidingLog, Tiered
    >>> S = 1_000_000_000
    >>> oracle_makespan([0] * 5, Tiered([SlidingLog(2, S)]), S // 100)  # sent at 0, 0, 1, 1, 2 s
    2010000000
    >>> oracle_makespan([0, S // 5, 3 * S], SlidingLog(1, S), 0)  # sent at 0, 1, 3 s
    3000000000
    """
    if isinstance(policy, Admission):
        count = policy.record
    else:

        def count(now: int, n: int = 1) -> None:
            if not policy.decide(now, n).allowed:
                raise RuntimeError(f"oracle_makespan: policy rejected t={now!r} after earliest() offered it")

    if costs is None:
        releases = sorted(release_ns)
        if not releases:
            return None
        t = releases[0]
        for release in releases:
            t = policy.earliest(max(release, t))
            count(t)
        return t + latency_ns - releases[0]
    jobs = sorted(zip(release_ns, costs, strict=True), key=lambda rc: rc[0])  # stable: equal releases in order
    if not jobs:
        return None
    t = first = jobs[0][0]
    end = first
    for release, cost in jobs:
        t = policy.earliest(max(release, t), cost)
        count(t, cost)
        end = max(end, t + latency_ns + cost * latency_per_unit_ns)
    return end - first


#: Why ``efficiency`` is null for a run that completed every job against an oracle of 0 s.
ZERO_ORACLE_NOTE = ("efficiency withheld: the fastest schedule the quota allows takes 0 s (every job fits "
                    "the first window and the server has no latency), so no makespan ratio can rank this run")


def efficiency_note(m: Metrics, oracle_makespan_s: float | None) -> str | None:
    """The reason ``m.efficiency`` is withheld when the run would otherwise have had one, else ``None``.

    >>> m = compute([], [], [], requests=0, cpu_s=None, oracle_makespan_s=0.0)
    >>> efficiency_note(m, 0.0) is None  # no jobs: efficiency is undefined, not withheld
    True
    """
    if oracle_makespan_s == 0 and m.requests > 0 and m.completion == 1.0:
        return ZERO_ORACLE_NOTE
    return None


def loop_lag_ms(samples: Sequence[float] | None) -> tuple[float | None, float | None, float | None]:
    """Event-loop lag: p50, p99 and max of the ticker's lateness samples (seconds, :mod:`bench.loop_lag`),
    in milliseconds; all ``None`` when the lag was not measured (``None``) or no sample was taken.

    >>> [round(x, 9) for x in loop_lag_ms([0.0, 0.001, 0.002, 0.010])]  # p50: 1.5; p99: 2 + 0.97 * 8 ms
    [1.5, 9.76, 10.0]
    >>> loop_lag_ms(None)
    (None, None, None)
    """
    if not samples:
        return None, None, None
    return _ms(percentile(samples, 50)), _ms(percentile(samples, 99)), _ms(max(samples))


def client_peak_window_count(attempts: Iterable[Attempt], tiers: Sequence[Tier],
                             job_costs: Sequence[int] | None = None) -> tuple[int, ...]:
    """Per tier, the most attempts the client *sent* (``sent_s``, every attempt, whatever its outcome) in
    any half-open window ``[t, t + W)``: :func:`peak_window_count_ns` over the send times converted to
    integer ns. A token tier counts each attempt's job cost (``job_costs[job]``; 1 when not given).
    Beside the server-side ``peak_window_count``: the difference is what the network did to the spacing.

    >>> from bench.records import Attempt
    >>> sent = [Attempt(j, 1, 0.0, s, None, s + 0.01, 200) for j, s in enumerate([0.0, 0.4, 0.999, 1.0])]
    >>> client_peak_window_count(sent, [Tier(3, 1.0), Tier(10, 0.5, "tokens")], job_costs=[4, 1, 2, 3])
    (3, 5)
    """
    cols = AttemptColumns.of(attempts)
    times = [ticks.from_seconds(s) for s in cols.sent_s]
    out = []
    for t in tiers:
        weights = None
        if t.unit == "tokens":
            weights = [job_costs[j] if job_costs is not None else 1 for j in cols.job]
        out.append(peak_window_count_ns(times, ticks.from_seconds(t.window_s), weights))
    return tuple(out)


def window_phase_s(start_ns: int, tiers: Sequence[Tier]) -> tuple[float, ...]:
    """Per tier, where the run started within that tier's clock-aligned windows: ``start_ns mod W``
    (``start_ns``: run start on the server's clock, integer ns; windows ``[k W, (k + 1) W)`` as a
    fixed window anchored to the clock counts them), in seconds, in ``[0, W)``.

    >>> window_phase_s(7_250_000_000, [Tier(10, 1.0), Tier(100, 60.0)])
    (0.25, 7.25)
    """
    return tuple(ticks.to_seconds(start_ns % ticks.from_seconds(t.window_s)) for t in tiers)


# --------------------------------------------------------------------------------------------------
# The aggregate


@dataclass(frozen=True, slots=True)
class Metrics:
    """Every §4 metric of one run, named as in §4 with the percentiles flattened.

    ``peak_window_count`` and ``first_window_count`` hold one count per quota tier, in the order of
    the tiers given to :func:`compute`.
    """

    requests: int
    attempts: int
    succeeded: int
    throttled: int
    errors: int
    duration_s: float | None
    throughput_rps: float | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    queue_wait_p50_ms: float | None
    queue_wait_p99_ms: float | None
    service_p50_ms: float | None
    service_p99_ms: float | None
    peak_window_count: tuple[int, ...]  # empty when the server's log is incomplete
    burst_ratio: float | None
    first_window_count: tuple[int, ...]
    completion: float | None
    efficiency: float | None
    peak_concurrency: int | None  # None when the server's log is incomplete
    cpu_s_per_1k: float | None
    # Arrivals the scenario's own policy rejects on replay (bench.compliance); None when not judged (an
    # incomplete log, or no judge given). Last, with a default: results written before it still load.
    policy_rejected: int | None = None
    # Issue 11 (defaults: results written before them load unchanged).
    loop_lag_p50_ms: float | None = None  # None: the loop's lag was not measured (bench.loop_lag)
    loop_lag_p99_ms: float | None = None
    loop_lag_max_ms: float | None = None
    client_peak_window_count: tuple[int, ...] = ()  # per tier, from the client's send times
    window_phase_s: tuple[float, ...] = ()  # per tier, run start's phase in its clock-aligned windows
    jobs_dropped: int = 0  # jobs not sent by their deadline
    jobs_cancelled: int = 0  # jobs cancelled while waiting
    #: The scenario's noisy neighbour's requests the API rejected during the run (None: no neighbour, or the
    #: server does not say): the share of the key the run's traffic took from it (docs/metrics.md).
    neighbour_rejected: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per-tier tuples become lists, undefined metrics ``None`` (JSON ``null``).

        Floats are not rounded: ``json`` writes the shortest repr that round-trips, so recomputing
        from requests.csv reproduces them exactly.

        >>> m = compute([], [], [Tier(5, 1.0)], requests=0, cpu_s=None, oracle_makespan_s=None)
        >>> m.to_dict()["peak_window_count"], m.to_dict()["duration_s"], Metrics.from_dict(m.to_dict()) == m
        ([0], None, True)
        """
        d = asdict(self)
        d["peak_window_count"] = list(self.peak_window_count)
        d["first_window_count"] = list(self.first_window_count)
        d["client_peak_window_count"] = list(self.client_peak_window_count)
        d["window_phase_s"] = list(self.window_phase_s)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Metrics:
        """Inverse of :meth:`to_dict` (extra keys are ignored, so older/newer results still load)."""
        # A field added later (with a default) may be missing from an older file.
        kw = {f.name: d[f.name] for f in fields(cls) if f.name in d or f.default is MISSING}
        for k in ("peak_window_count", "first_window_count", "client_peak_window_count", "window_phase_s"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)


def _percentile_sorted(v: np.ndarray, p: float) -> float | None:
    """:func:`percentile` of values already sorted (a float64 array): the same formula in Python floats."""
    if not len(v):
        return None
    h = (len(v) - 1) * p / 100.0
    lo = math.floor(h)
    frac = h - lo
    a = float(v[lo])
    if frac == 0.0 or lo + 1 >= len(v):
        return a
    return a + frac * (float(v[lo + 1]) - a)


def _peak_sorted(ts: np.ndarray, window_ns: int) -> int:
    """:func:`peak_window_count_ns` of sorted int64 times: the most in ``[ts[i], ts[i] + W)`` over every i."""
    if not len(ts):
        return 0
    return int((np.searchsorted(ts, ts + window_ns, side="left") - np.arange(len(ts))).max())


def _first_sorted(ts: np.ndarray, window_ns: int) -> int:
    """:func:`first_window_count_ns` of sorted int64 times."""
    return int(np.searchsorted(ts, ts[0] + window_ns, side="left")) if len(ts) else 0


def _finals_firsts(cols: AttemptColumns) -> tuple[np.ndarray, np.ndarray]:
    """Per job, the index of its final attempt (highest ``(attempt, done_s)``) and of its first (lowest
    ``(attempt, sent_s)``); on a tie, the earliest index, as ``max``/``min`` over the records pick it."""
    if not len(cols):
        empty = np.zeros(0, np.int64)
        return empty, empty
    job, att = np.frombuffer(cols.job, np.int64), np.frombuffer(cols.attempt, np.int64)
    idx = np.arange(len(cols), dtype=np.int64)
    final_order = np.lexsort((idx, -np.frombuffer(cols.done_s, np.float64), -att, job))
    first_order = np.lexsort((idx, np.frombuffer(cols.sent_s, np.float64), att, job))

    def heads(order: np.ndarray) -> np.ndarray:
        j = job[order]
        return order[np.flatnonzero(np.concatenate(([True], j[1:] != j[:-1])))]

    return heads(final_order), heads(first_order)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def _ratio(num: float, den: float | None) -> float | None:
    return None if den is None or den <= 0 else num / den


def compute(
    attempts: Sequence[Attempt],
    arrivals: Sequence[Arrival] | None,
    tiers: Sequence[Tier],
    requests: int,
    cpu_s: float | None,
    oracle_makespan_s: float | None,
    rejected: Collection[int] = (429,),
    judge: compliance.Judge | None = None,
    judge_origin_ns: int = 0,
    *,
    loop_lags: Sequence[float] | None = None,
    start_ns: int | None = None,
    jobs_dropped: int = 0,
    jobs_cancelled: int = 0,
    job_costs: Sequence[int] | None = None,
) -> Metrics:
    """All §4 metrics of one run.

    ``attempts``: the client's records, one per HTTP call; ``arrivals``: the server's log (times
    relative to run start), or ``None`` when the server did not keep all of it (then the window
    counts are empty and the burst ratio and peak concurrency ``None``: a partial log would understate
    them); ``tiers``: the quota tiers (limit >= 1) the window counts are taken against;
    ``requests``: jobs in the workload; ``cpu_s``: client CPU seconds (``None`` if not measured);
    ``oracle_makespan_s``: :func:`oracle_makespan` for the same workload and quota, in seconds (an
    oracle of 0 s gives no efficiency: see :func:`efficiency_note`);
    ``rejected``: the statuses the server answers a rate-limit rejection with (429, and 403 for
    GitHub-style APIs): those attempts count as ``throttled``, not ``errors``. Attempts cut short by
    the run's timeout (status :data:`~bench.records.CANCELLED`) are neither.
    ``judge``: a fresh copy of the server's quota state (:func:`bench.compliance.judge`), consumed to
    replay ``arrivals`` into ``policy_rejected`` (``judge_origin_ns``: run start on the server's clock);
    without one, or without a complete log, ``policy_rejected`` is ``None``.
    ``loop_lags``: the loop-lag ticker's samples (:func:`loop_lag_ms`; ``None``: not measured);
    ``start_ns``: run start on the server's clock (:func:`window_phase_s`; ``None``: not recorded);
    ``jobs_dropped`` / ``jobs_cancelled``: jobs that gave up while waiting (counted by the harness);
    ``completion`` is over the jobs not cancelled (``requests - jobs_cancelled``): a cancellation is the
    scenario's doing, a missed deadline the strategy's;
    ``job_costs``: each job's cost, for the client-side count of token tiers
    (:func:`client_peak_window_count`).

    Per-job metrics use each job's *final* attempt (highest ``attempt`` number); a job the strategy
    never sent has no latency and cannot succeed. An empty run gives zero counts and ``None`` for
    everything else (per-tier counts are 0).

    >>> m = compute([], [], [Tier(10, 1.0)], requests=3, cpu_s=0.0, oracle_makespan_s=None)
    >>> m.attempts, m.duration_s, m.peak_window_count, m.burst_ratio, m.completion, m.efficiency
    (0, None, (0,), 0.0, 0.0, None)
    """
    # Columns (bench.columns), not a record per attempt: a big run's metrics cost a few arrays, not objects.
    cols = AttemptColumns.of(attempts)
    n = len(cols)
    finals, firsts = _finals_firsts(cols)
    status = cols.status
    done, sent, intended = (np.frombuffer(c, np.float64) for c in (cols.done_s, cols.sent_s, cols.intended_s))

    throttled = sum(1 for s in status if s in rejected)
    errors = sum(1 for s in status if s != CANCELLED and not 200 <= s < 300 and s not in rejected)
    succeeded = sum(1 for f in finals.tolist() if 200 <= status[f] < 300)

    duration_s = max(cols.done_s) - min(cols.sent_s) if n else None

    # The same IEEE differences as per record, sorted stably (as sorted() would): 8 bytes a value.
    latency = np.sort(done[finals] - intended[finals], kind="stable")
    queue_wait = np.sort(sent[firsts] - intended[firsts], kind="stable")
    service = np.sort(done - sent, kind="stable")

    arr = ArrivalColumns.of(arrivals) if arrivals is not None else None
    times = arr.t_ns if arr is not None else array("q")
    costs = arr.cost if arr is not None else array("q")
    sorted_times = np.sort(np.frombuffer(times, np.int64)) if len(times) else np.zeros(0, np.int64)
    measured = tiers if arrivals is not None else ()
    # A window as the server's config converts it; a token tier counts each arrival's cost.
    windows = [(ticks.from_seconds(t.window_s), costs if t.unit == "tokens" else None) for t in measured]
    peaks = tuple(peak_window_count_ns(times, w, c) if c is not None else _peak_sorted(sorted_times, w)
                  for w, c in windows)
    firsts_w = tuple(first_window_count_ns(times, w, c) if c is not None else _first_sorted(sorted_times, w)
                     for w, c in windows)
    for t in tiers:
        if t.limit < 1:
            raise ValueError(f"compute: tier limit must be >= 1, got {t!r}")
    # Binding tier for this run: the one the run came closest to (or went furthest past).
    burst_ratio = max((p / t.limit for p, t in zip(peaks, measured, strict=True)), default=None)

    efficiency: float | None = None
    # An oracle of 0 s (everything fits the first window, no latency) has no ratio that ranks: withheld,
    # with the reason from efficiency_note(), rather than a 0.00 for a run that did everything right.
    if oracle_makespan_s and requests > 0 and succeeded >= requests and len(finals):
        actual = float(done[finals].max()) - min(cols.intended_s)
        efficiency = _ratio(oracle_makespan_s, actual)

    lag = loop_lag_ms(loop_lags)
    return Metrics(
        requests=requests,
        attempts=n,
        succeeded=succeeded,
        throttled=throttled,
        errors=errors,
        duration_s=duration_s,
        throughput_rps=_ratio(succeeded, duration_s),
        latency_p50_ms=_ms(_percentile_sorted(latency, 50)),
        latency_p90_ms=_ms(_percentile_sorted(latency, 90)),
        latency_p99_ms=_ms(_percentile_sorted(latency, 99)),
        latency_max_ms=_ms(float(latency[-1]) if len(latency) else None),
        queue_wait_p50_ms=_ms(_percentile_sorted(queue_wait, 50)),
        queue_wait_p99_ms=_ms(_percentile_sorted(queue_wait, 99)),
        service_p50_ms=_ms(_percentile_sorted(service, 50)),
        service_p99_ms=_ms(_percentile_sorted(service, 99)),
        peak_window_count=peaks,
        burst_ratio=burst_ratio,
        first_window_count=firsts_w,
        # Cancellations the scenario asked for are not the strategy's to finish; missed deadlines are.
        completion=_ratio(succeeded, requests - jobs_cancelled),
        efficiency=efficiency,
        peak_concurrency=None if arr is None else max(arr.in_flight, default=0),
        cpu_s_per_1k=None if cpu_s is None or not n else cpu_s * 1000.0 / n,
        policy_rejected=(None if arr is None or judge is None
                         else compliance.rejections(arr, judge, judge_origin_ns)),
        loop_lag_p50_ms=lag[0],
        loop_lag_p99_ms=lag[1],
        loop_lag_max_ms=lag[2],
        client_peak_window_count=client_peak_window_count(cols, tiers, job_costs),
        window_phase_s=() if start_ns is None else window_phase_s(start_ns, tiers),
        jobs_dropped=jobs_dropped,
        jobs_cancelled=jobs_cancelled,
    )

