"""The harness's own lateness: how far behind its schedule the harness itself ran (pure functions).

Two lags, both measured on the loop clock, both the harness's and never the strategy's:

- **release lag**, per job: the moment the harness handed a job to the strategy minus the moment it
  should have, ``handed − max(scheduled, asked)``. A strategy that asks for its next job late (a
  worker pool whose workers are busy) gets it at once: that wait is the strategy's choice, not lag.
  A late hand-over is a loop too busy to wake the release timer on time.
- **send lag**, per attempt: the moment httpx handed the request to its transport (a ``request``
  event hook) minus the moment the harness let it go (``sent_s``, or when a slot of its in-flight
  bound freed): the client's own work (building the request, auth, hooks) plus any loop delay
  between them. A wait for a free connection is not lag: a strategy may ask for it (``client_limits``).
- **transit**, per attempt that reached the server: ``arrival_s − sent_s``, the server's log time
  minus the send stamp: the client's pool, connection set-up, the socket and the server's accept.
  It is the harness's (its client and its mock server) only when the strategy set no
  ``client_limits`` of its own; only then is it judged against the bound, otherwise it is recorded
  and shown but a queue the strategy asked for does not taint the run.

A run whose p99 of either lag exceeds the bound (:data:`DEFAULT_BOUND_MS`) is **harness-limited**:
its latency and throughput figures are the harness's, not the strategy's.

>>> lag = HarnessLag.of([0.0, 0.0, 0.012], [0.0001, 0.0002])
>>> lag.release.max_ms, lag.limited
(12.0, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.metrics import percentile

__all__ = ["DEFAULT_BOUND_MS", "HarnessLag", "LagSummary", "release_lag", "send_lag", "transits"]

#: p99 lag above which a run is flagged harness-limited: at 5 ms the harness is a visible share of the
#: latencies the mock's default 1–5 ms service times produce, and well above a quiet machine's ~1–2 ms.
DEFAULT_BOUND_MS = 5.0
#: ``transit`` is judged over the attempts sent while fewer than this many of the run's requests were in
#: flight. A clump the strategy releases at once (50 sends in one instant) queues behind itself — the client
#: encodes one request after another, one server answers them in turn — so its tail arrives ~10 ms after it
#: was sent on any machine. Even the clump's head waits for the CPU work of the sends started in the same loop
#: turn, so a run of big clumps (pyrate's 50–70 at once) can still be flagged: its latency figures then do
#: include client-side queueing.
CROWD = 8


def release_lag(scheduled: float, asked: float, handed: float) -> float:
    """Seconds the harness was late handing a job over: ``handed − max(scheduled, asked)``, never negative.

    >>> round(release_lag(scheduled=1.0, asked=0.5, handed=1.003), 9)   # woke 3 ms late
    0.003
    >>> release_lag(scheduled=1.0, asked=2.0, handed=2.0)     # the strategy asked late: no lag
    0.0
    """
    return max(0.0, handed - max(scheduled, asked))


def send_lag(sent: float, left: float) -> float:
    """Seconds between the attempt's ``sent_s`` stamp and the hand-over to the transport, never negative.

    >>> round(send_lag(2.0, 2.0005), 9)
    0.0005
    """
    return max(0.0, left - sent)


def transits(pairs: Iterable[tuple[float, float | None]]) -> list[float]:
    """``arrival − sent`` for each ``(sent_s, arrival_s)`` whose request reached the server, never negative.

    >>> [round(x, 9) for x in transits([(1.0, 1.002), (2.0, None), (3.0, 3.0005)])]
    [0.002, 0.0005]
    """
    return [max(0.0, arrival - sent) for sent, arrival in pairs if arrival is not None]


@dataclass(frozen=True, slots=True)
class LagSummary:
    """p50 / p99 / max of one lag, in milliseconds, over ``count`` samples."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, lags_s: Iterable[float]) -> LagSummary | None:
        """``None`` for no samples (a run that released nothing: nothing to judge).

        >>> LagSummary.of([0.001, 0.002, 0.003, 0.004])
        LagSummary(count=4, p50_ms=2.5, p99_ms=3.97, max_ms=4.0)
        """
        ms = sorted(x * 1000.0 for x in lags_s)
        if not ms:
            return None
        p50, p99 = percentile(ms, 50), percentile(ms, 99)
        assert p50 is not None and p99 is not None
        return cls(len(ms), round(p50, 6), round(p99, 6), round(ms[-1], 6))

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LagSummary:
        return cls(int(d["count"]), float(d["p50_ms"]), float(d["p99_ms"]), float(d["max_ms"]))


@dataclass(frozen=True, slots=True)
class HarnessLag:
    """The lags of one run and the verdict against ``bound_ms``."""

    release: LagSummary | None
    send: LagSummary | None
    transit: LagSummary | None = None
    transit_judged: bool = False  # True when the strategy set no client_limits: the transit is all the harness's
    bound_ms: float = DEFAULT_BOUND_MS

    @classmethod
    def of(cls, release_lags_s: Sequence[float], send_lags_s: Sequence[float], transits_s: Sequence[float] = (),
           *, transit_judged: bool = False, bound_ms: float = DEFAULT_BOUND_MS) -> HarnessLag:
        return cls(LagSummary.of(release_lags_s), LagSummary.of(send_lags_s), LagSummary.of(transits_s),
                   transit_judged, bound_ms)

    @property
    def worst(self) -> list[tuple[str, LagSummary]]:
        """The judged lags over the bound, by name: release and send lag by their p99; transit by its median.

        Transit by its median because a run's first requests open the client's connections (TCP set-up: ~6–15 ms
        on a quiet machine, docs/netmodel.md), which puts a clump at the start of any run above the bound at
        p99 while the harness keeps up; a harness that falls behind is late for most requests, which the
        median shows.

        >>> HarnessLag(LagSummary(3, 1.0, 5.0, 9.0), None).worst    # at the bound is within it
        []
        >>> [n for n, _ in HarnessLag(None, None, LagSummary(3, 6.0, 8.0, 9.0), transit_judged=True).worst]
        ['transit']
        >>> HarnessLag(None, None, LagSummary(3, 1.0, 8.0, 9.0), transit_judged=True).worst  # a slow start only
        []
        """
        judged = [(n, s) for n, s in (("release lag", self.release), ("send lag", self.send))
                  if s is not None and s.p99_ms > self.bound_ms]
        if self.transit_judged and self.transit is not None and self.transit.p50_ms > self.bound_ms:
            judged.append(("transit", self.transit))
        return judged

    @property
    def limited(self) -> bool:
        """Any judged lag's p99 above the bound: the run's figures are the harness's."""
        return bool(self.worst)

    def to_dict(self) -> dict[str, Any]:
        def d(s: LagSummary | None) -> dict[str, Any] | None:
            return None if s is None else s.to_dict()

        return {"release_lag": d(self.release), "send_lag": d(self.send), "transit": d(self.transit),
                "transit_judged": self.transit_judged, "bound_ms": self.bound_ms, "harness_limited": self.limited}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HarnessLag:
        def s(key: str) -> LagSummary | None:
            v = d.get(key)
            return None if v is None else LagSummary.from_dict(v)

        return cls(s("release_lag"), s("send_lag"), s("transit"), bool(d.get("transit_judged", False)),
                   float(d.get("bound_ms", DEFAULT_BOUND_MS)))
