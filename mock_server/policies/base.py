"""The policy interface and the composition of several tiers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one request, with what the rate-limit headers report."""

    allowed: bool
    limit: int  # of the tier reported in headers (the one closest to exhaustion)
    remaining: int  # after this request
    reset_s: float  # seconds until the reported tier has room again (0 when it has room now)
    retry_after_s: float  # seconds until a request would be accepted (0 when allowed)
    window_s: float = 1.0


class Policy(Protocol):
    """One quota tier. ``now`` is the server clock in seconds."""

    limit: int
    window_s: float

    def earliest(self, now: float) -> float:
        """The earliest instant >= ``now`` at which a request would be accepted; must not change state."""

    def remaining(self, now: float) -> int:
        """Requests that would be accepted if sent at ``now`` (``now`` never goes backwards)."""

    def record(self, now: float) -> None:
        """Count an accepted request at ``now``."""


class Tiered:
    """Several tiers at once: a request is accepted only when every tier has room, and is then
    counted in every tier.

    >>> from mock_server.policies.sliding_log import SlidingLog
    >>> t = Tiered([SlidingLog(2, 1.0)])
    >>> [t.decide(0.0).allowed, t.decide(0.1).allowed, t.decide(0.2).allowed, t.decide(1.0).allowed]
    [True, True, False, True]
    """

    def __init__(self, tiers: Sequence[Policy]) -> None:
        self.tiers = list(tiers)

    def earliest(self, now: float) -> float:
        # Each tier's wait can move another's (not for sliding logs alone, but keep the fixpoint honest).
        t = now
        for _ in range(100):
            nxt = max((p.earliest(t) for p in self.tiers), default=t)
            if nxt == t:
                return t
            t = nxt
        return t

    def decide(self, now: float) -> Decision:
        allowed = all(p.earliest(now) <= now for p in self.tiers)
        if allowed:
            for p in self.tiers:
                p.record(now)
        if not self.tiers:
            return Decision(True, 0, 0, 0.0, 0.0)
        # Report the tier with the fewest requests left, as real APIs report the one closest to binding.
        tier = min(self.tiers, key=lambda p: (p.remaining(now), -p.window_s))
        remaining = tier.remaining(now)
        reset = 0.0 if remaining > 0 else tier.earliest(now) - now
        retry = 0.0 if allowed else self.earliest(now) - now
        return Decision(allowed, tier.limit, remaining, reset, retry, tier.window_s)


def ceil_seconds(s: float) -> int:
    """Whole seconds, rounded up, as ``Retry-After`` and delta resets are sent (a 0.3 s wait is 1)."""
    return max(0, math.ceil(s - 1e-9))
