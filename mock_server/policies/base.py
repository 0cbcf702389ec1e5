"""The policy interface, the composition of several tiers, and the float care they share.

Every algorithm answers four questions about one tier at server time ``now`` (seconds, never going
backwards): is there room (:meth:`Policy.earliest` ``<= now``), how many requests would still be
accepted (:meth:`Policy.remaining`), when does that number next grow (:meth:`Policy.reset_after`), and
count one (:meth:`Policy.record`). ``earliest`` is pure: the oracle asks it about future instants.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one request, with what the rate-limit headers report.

    ``limit``/``remaining``/``reset_s``/``window_s``/``name`` describe the *reported* tier: the one with
    the fewest requests left, as real APIs report the tier closest to binding. ``limit`` is the tier's
    capacity: its limit, or a token bucket's burst (so ``remaining <= limit`` always holds). ``tiers`` are all the
    tiers that decided (for dialects that list every policy).
    """

    allowed: bool
    limit: int
    remaining: int  # after this request
    reset_s: float  # seconds until the reported tier's ``remaining`` next grows (0 when it is full)
    retry_after_s: float  # seconds until a request would be accepted (0 when allowed)
    window_s: float = 1.0
    name: str = ""
    tiers: Sequence[Policy] = field(default=(), compare=False, repr=False)


class Policy(Protocol):
    """One quota tier. ``now`` is the server clock in seconds."""

    limit: int
    window_s: float
    name: str

    @property
    def capacity(self) -> int:
        """The most :meth:`remaining` can be: the limit headers report this (a bucket's burst)."""
        ...

    def earliest(self, now: float) -> float:
        """The earliest instant >= ``now`` at which a request would be accepted; must not change state."""
        ...

    def remaining(self, now: float) -> int:
        """Requests that would be accepted back to back at ``now``."""
        ...

    def reset_after(self, now: float) -> float:
        """Seconds from ``now`` until :meth:`remaining` next grows (0 when nothing is counted)."""
        ...

    def record(self, now: float) -> None:
        """Count a request at ``now`` (an accepted one, or a rejected one under a penalty)."""
        ...

    def set_limit(self, limit: int) -> None:
        """Change the limit from now on (a quota schedule); what was counted stays counted."""
        ...


def default_name(limit: int, window_s: float) -> str:
    return f"{limit}-per-{window_s:g}s"


class Tiered:
    """Several tiers at once: a request is accepted only when every tier has room, and is then
    counted in every tier. Optionally, a rejection is counted too (``penalty``) and locks the caller
    out for ``lockout_s`` (each rejection during a lockout extends it).

    >>> from mock_server.policies.sliding_log import SlidingLog
    >>> t = Tiered([SlidingLog(2, 1.0)])
    >>> [t.decide(0.0).allowed, t.decide(0.1).allowed, t.decide(0.2).allowed, t.decide(1.0).allowed]
    [True, True, False, True]
    """

    def __init__(self, tiers: Sequence[Policy], *, penalty: bool = False, lockout_s: float = 0.0) -> None:
        self.tiers = list(tiers)
        self.penalty = penalty
        self.lockout_s = lockout_s
        self.locked_until = -math.inf

    def earliest(self, now: float) -> float:
        # One tier's wait can land inside another's full period (fixed windows), so iterate to a fixpoint.
        t = max(now, self.locked_until)
        for _ in range(1000):
            nxt = max((p.earliest(t) for p in self.tiers), default=t)
            if nxt == t:
                return t
            t = nxt
        return t

    def record(self, now: float) -> None:
        """Count a request in every tier (what the oracle does after :meth:`earliest` offered ``now``)."""
        for p in self.tiers:
            p.record(now)

    def decide(self, now: float) -> Decision:
        tiers = self.tiers
        allowed = now >= self.locked_until and all(p.earliest(now) <= now for p in tiers)
        if allowed or self.penalty:
            for p in tiers:
                p.record(now)
        if not allowed and self.lockout_s > 0:
            self.locked_until = max(self.locked_until, now + self.lockout_s)
        if not tiers:
            return Decision(allowed, 0, 0, 0.0, 0.0 if allowed else self.locked_until - now)
        if len(tiers) == 1:
            tier, remaining = tiers[0], tiers[0].remaining(now)
        else:
            # Fewest left; on a tie the longer window, whose exhaustion lasts longer.
            remaining, _, i = min((p.remaining(now), -p.window_s, i) for i, p in enumerate(tiers))
            tier = tiers[i]
        retry = 0.0 if allowed else self.earliest(now) - now
        return Decision(allowed, tier.capacity, remaining, tier.reset_after(now), retry, tier.window_s,
                        tier.name, tiers)


def ceil_seconds(s: float) -> int:
    """Whole seconds, rounded up, as ``Retry-After`` and delta resets are sent (a 0.3 s wait is 1).

    >>> ceil_seconds(0.3), ceil_seconds(2.0), ceil_seconds(2.0000000001), ceil_seconds(0.0)
    (1, 2, 2, 0)
    """
    return max(0, math.ceil(s - 1e-9))


def window_index(now: float, window_s: float) -> int:
    """The clock-aligned window ``now`` falls in: ``floor(now / window_s)``."""
    return math.floor(now / window_s)


def window_start(k: int, window_s: float) -> float:
    """The first float instant whose :func:`window_index` is ``k``.

    ``k * window_s`` alone can land an ulp on the wrong side (``3 * 0.1 / 0.1`` is fine, but not every
    product divides back exactly), and the instant a policy promises must be one it then accepts.

    >>> window_start(3, 0.1), window_index(window_start(3, 0.1), 0.1)
    (0.30000000000000004, 3)
    """
    t = k * window_s
    while window_index(t, window_s) < k:
        t = math.nextafter(t, math.inf)
    while window_index(down := math.nextafter(t, -math.inf), window_s) >= k:
        t = down
    return t


def first_true(t: float, ok: Callable[[float], bool]) -> float:
    """``t`` nudged up by ulps until ``ok(t)``: an analytic boundary made exact for the predicate that
    will judge it (bounded; the analytic value is at most a few ulps early)."""
    for _ in range(64):
        if ok(t):
            return t
        t = math.nextafter(t, math.inf)
    return t
