"""Quota algorithms. Each is a :class:`~mock_server.policies.base.Policy`: decide at ``now``, and say
when a rejected request would next be accepted (the oracle behind the efficiency metric)."""

from __future__ import annotations

from mock_server.config import QuotaConfig
from mock_server.policies.base import Decision, Policy, Tiered
from mock_server.policies.sliding_log import SlidingLog

__all__ = ["Decision", "Policy", "SlidingLog", "Tiered", "build"]


def build(quota: tuple[QuotaConfig, ...]) -> Tiered:
    """One policy per configured tier; the binding (most restrictive) tier decides."""
    kinds = {"sliding-log": SlidingLog}
    return Tiered([kinds[q.algorithm](q.limit, q.window_s) for q in quota])
