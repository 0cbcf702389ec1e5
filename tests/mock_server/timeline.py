"""Drive a policy through a hand-written timeline and read back the statuses the server would send.

Timelines are written in seconds, as people read them, and converted to the policies' integer
nanoseconds once, with the same :func:`mock_server.ticks.from_seconds` the config uses.
"""

from __future__ import annotations

from collections.abc import Iterable

from mock_server.policies import Policy, Tiered
from mock_server.ticks import from_seconds as ns


def statuses(policy: Policy | Tiered, times: Iterable[float]) -> list[int]:
    """200 or 429 for each arrival (seconds), in order (a single tier is wrapped as the app wraps it)."""
    tiered = policy if isinstance(policy, Tiered) else Tiered([policy])
    return [200 if tiered.decide(ns(t)).allowed else 429 for t in times]


def accepted(policy: Policy | Tiered, times: Iterable[float]) -> list[float]:
    tiered = policy if isinstance(policy, Tiered) else Tiered([policy])
    return [t for t in times if tiered.decide(ns(t)).allowed]
