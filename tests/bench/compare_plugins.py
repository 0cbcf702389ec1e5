"""Strategies for tests/bench/test_compare.py: one class at the declared rate and one at twice it,
under the same name, so that two runs of "the same strategy" differ only in its rate."""

from __future__ import annotations

from strategies.aiolimiter_smooth import AiolimiterSmooth
from strategies.base import Quota


class Paced(AiolimiterSmooth):
    """``AsyncLimiter(1, 1/r)`` at the declared rate ``r``."""

    name = "paced-under-test"
    description = "evenly paced at the declared rate (test plugin)"


class PacedDoubled(AiolimiterSmooth):
    """The same, configured from a quota with every tier's limit doubled: twice the rate."""

    name = "paced-under-test"
    description = "evenly paced at twice the declared rate (test plugin)"

    def __init__(self, quota: Quota) -> None:
        doubled = tuple(type(t)(t.limit * 2, t.window_s, t.unit) for t in quota.tiers)
        super().__init__(Quota(doubled, quota.concurrency))
