"""Quota algorithms, one module each, all reading one injected clock through the ``now`` they are given.

Each is a :class:`~mock_server.policies.base.Policy`: ``earliest(now)`` (pure: the earliest instant a
request would be accepted, which the runner's oracle drives), ``remaining``, ``reset_after``,
``record`` and ``set_limit``. :class:`Tiered` composes several tiers; :func:`build` makes one from config.
Time is integer nanoseconds (:mod:`mock_server.ticks`); windows come from ``QuotaConfig.window_ns``.

>>> from mock_server.config import QuotaConfig
>>> p = build((QuotaConfig(10, 1.0, "gcra", burst=2), QuotaConfig(100, 60.0, "fixed-window")))
>>> [p.decide(0).allowed for _ in range(3)], p.earliest(0)
([True, True, False], 100000000)
"""

from __future__ import annotations

from collections.abc import Iterable

from mock_server.config import QuotaConfig
from mock_server.policies.base import Decision, Policy, Tiered
from mock_server.policies.fixed_window import FixedWindow, FixedWindowFromFirst
from mock_server.policies.gcra import GCRA
from mock_server.policies.sliding_counter import SlidingCounter
from mock_server.policies.sliding_log import SlidingLog
from mock_server.ticks import ceil_seconds

__all__ = [
    "GCRA",
    "Decision",
    "FixedWindow",
    "FixedWindowFromFirst",
    "Policy",
    "SlidingCounter",
    "SlidingLog",
    "Tiered",
    "build",
    "build_one",
    "ceil_seconds",
]


def build_one(q: QuotaConfig) -> Policy:
    """A fresh policy for one configured tier."""
    if q.algorithm == "sliding-log":
        return SlidingLog(q.limit, q.window_ns, q.label, q.unit)
    if q.algorithm == "fixed-window":
        cls = FixedWindow if q.anchor == "clock" else FixedWindowFromFirst
        return cls(q.limit, q.window_ns, q.label, q.unit)
    if q.algorithm == "sliding-counter":
        return SlidingCounter(q.limit, q.window_ns, q.label, q.unit)
    if q.algorithm in ("gcra", "token-bucket"):
        return GCRA(q.limit, q.window_ns, q.burst, q.label, q.unit)
    raise ValueError(f"unknown algorithm {q.algorithm!r}")


def build(quota: Iterable[QuotaConfig], *, penalty: bool = False, lockout_ns: int = 0) -> Tiered:
    """One policy per configured tier; a request must fit every tier (the binding one decides)."""
    return Tiered([build_one(q) for q in quota], penalty=penalty, lockout_ns=lockout_ns)
