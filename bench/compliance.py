"""Compliance as the server's verdict: replay a run's arrivals through a fresh copy of the scenario's own
quota policy and count the arrivals it would reject (docs/metrics.md ``policy_rejected``).

A sliding-window count (``burst_ratio``) is one rule for every API; a token bucket with a burst allowance,
or a clock-aligned fixed window, legally accepts more than ``L`` arrivals in some window of ``W``. The
replay asks the question of the API itself: given exactly these arrivals (server times in integer ns, in
order, each with its cost and key), would *this* policy have said no to any of them?

The judge is the scenario's **enforced** quota (``[server]``, not ``[declared]``): the tiers per API key
and the global ones, penalty and lockout, the limit schedule and the noisy neighbour, started at the run's
start on the server's clock (:class:`mock_server.quota.QuotaState`, the server's own code). Arrivals the
server refused before any tier counted them (status 400: a malformed cost header) are skipped.

>>> from mock_server.config import ServerConfig
>>> from mock_server.log import Arrival
>>> S = 1_000_000_000
>>> bucket = ServerConfig.from_dict({"quota": [{"algorithm": "token-bucket", "limit": 10, "window_s": 1.0,
...                                             "burst": 20}]})
>>> burst = [Arrival(str(i), 0, 200) for i in range(20)]  # 20 at once: the bucket's burst, legal
>>> rejections(burst, judge(bucket))
0
>>> rejections(burst + [Arrival("x", S // 20, 200)], judge(bucket))  # one more 50 ms later: over
1
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bench.columns import ArrivalColumns
from mock_server.config import ServerConfig
from mock_server.log import Arrival
from mock_server.quota import QuotaState

__all__ = ["POLICY_RULE", "SLIDING_RULE", "Judge", "judge", "rejections"]

#: What the ``policy rej.`` column applies, said under every table that shows it.
POLICY_RULE = ("`policy rej.` = arrivals the scenario's own (enforced) quota policy rejects when the run's arrivals "
               "are replayed through a fresh copy of it; 0 = compliant by the API's own rule")
#: What the ``burst`` column applies: the same sliding window for every API, stricter than a token bucket or
#: a fixed window.
SLIDING_RULE = ("`sliding burst` = most server arrivals in any sliding window [t, t+W) ÷ L (≤ 1.00: within L per W in "
                "sliding-window terms, a stricter rule than a token bucket's or a fixed window's)")


class _Decision(Protocol):
    @property
    def allowed(self) -> bool: ...


class Judge(Protocol):
    """Anything that decides (and counts) one request of ``key`` and ``cost`` at server time ``now``:
    :class:`mock_server.quota.QuotaState`."""

    def decide(self, key: str, now: int, cost: int = 1) -> _Decision:
        """Accept (and count) or reject a request."""
        ...


def judge(server: ServerConfig, origin_ns: int = 0) -> QuotaState:
    """A fresh copy of ``server``'s quota state, started at ``origin_ns`` (the run's start on the server's
    clock: clock-aligned fixed windows and the dynamics' schedule sit where the server put them)."""
    return QuotaState(server, origin_ns)


def rejections(arrivals: Iterable[Arrival], judge: Judge, origin_ns: int = 0) -> int:
    """How many of ``arrivals`` (``t_ns`` relative to run start) ``judge`` rejects when it decides them in
    time order (arrivals at the same instant in log order) at ``origin_ns + t_ns``.

    A rejected arrival is not counted by the policy (the server does the same), so a client that is
    rejected once and backs off is charged once. Arrivals with status 400 are skipped: the server refused
    them before any tier counted them.

    >>> from mock_server.config import ServerConfig
    >>> S = 1_000_000_000
    >>> log = [Arrival("a", 0, 200), Arrival("b", S // 2, 200), Arrival("c", S, 200)]
    >>> one = ServerConfig.from_dict({"quota": [{"limit": 1, "window_s": 1.0}]})
    >>> rejections(log, judge(one))  # b is 0.5 s after a; c is exactly one window after a
    1
    """
    if isinstance(arrivals, ArrivalColumns):  # a big run's columns: sorted by index, one record at a time
        ordered: Iterable[Arrival] = (a for a in arrivals.by_time() if a.status != 400)
    else:
        ordered = sorted((a for a in arrivals if a.status != 400), key=lambda a: a.t_ns)  # stable: log order kept
    return sum(1 for a in ordered if not judge.decide(a.key, origin_ns + a.t_ns, a.cost).allowed)
