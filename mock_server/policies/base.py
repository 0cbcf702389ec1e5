"""The policy interface and the composition of several tiers.

Every algorithm answers four questions about one tier at server time ``now`` (integer nanoseconds,
:mod:`mock_server.ticks`, never going backwards): is there room (:meth:`Policy.earliest` ``<= now``),
how many requests would still be accepted (:meth:`Policy.remaining`), when does that number next grow
(:meth:`Policy.reset_after`), and count one (:meth:`Policy.record`). ``earliest`` is pure: the oracle
asks it about future instants. All arithmetic is on integers, so the instant a policy promises is the
instant it then accepts, and a window ``[t, t + W)`` means the same here as in the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mock_server.ticks import NS_PER_S, ceil_seconds, to_seconds

__all__ = ["Decision", "Policy", "Tiered", "ceil_seconds", "check_window", "default_name", "units"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one request, with what the rate-limit headers report.

    ``limit``/``remaining``/``reset_ns``/``window_ns``/``name`` describe the *reported* tier: the one
    with the fewest requests left, as real APIs report the tier closest to binding. ``limit`` is the
    tier's capacity: its limit, or a token bucket's burst (so ``remaining <= limit`` always holds).
    ``tiers`` are all the tiers that decided (for dialects that list every policy). Durations are
    integer nanoseconds; ``reset_s`` and ``retry_after_s`` are the same in seconds, for display.
    """

    allowed: bool
    limit: int
    remaining: int  # after this request
    reset_ns: int  # until the reported tier's ``remaining`` next grows (0 when it is full)
    retry_after_ns: int  # until a request would be accepted (0 when allowed)
    window_ns: int = NS_PER_S
    name: str = ""
    tiers: Sequence[Policy] = field(default=(), compare=False, repr=False)
    now: int = field(default=0, compare=False, repr=False)  # when decided: dialects that report every tier

    @property
    def reset_s(self) -> float:
        return to_seconds(self.reset_ns)

    @property
    def retry_after_s(self) -> float:
        return to_seconds(self.retry_after_ns)


class Policy(Protocol):
    """One quota tier. ``now`` is the server clock in integer nanoseconds."""

    limit: int
    window_ns: int
    name: str
    unit: str  # "requests": every request counts 1; "tokens": a request counts its cost

    @property
    def window_s(self) -> float:
        """The window in seconds, for headers and display."""
        ...

    @property
    def capacity(self) -> int:
        """The most :meth:`remaining` can be: the limit headers report this (a bucket's burst)."""
        ...

    def earliest(self, now: int, n: int = 1) -> int:
        """The earliest instant >= ``now`` at which ``n`` units (a request, or its cost) would be
        accepted; must not change state. ``n`` is at most :attr:`capacity`."""
        ...

    def remaining(self, now: int) -> int:
        """Units (requests, or tokens) that would be accepted back to back at ``now``."""
        ...

    def reset_after(self, now: int) -> int:
        """Nanoseconds from ``now`` until :meth:`remaining` next grows (0 when nothing is counted)."""
        ...

    def record(self, now: int, n: int = 1) -> None:
        """Count ``n`` units at ``now`` (an accepted request, or a rejected one under a penalty)."""
        ...

    def set_limit(self, limit: int) -> None:
        """Change the limit from now on (a quota schedule); what was counted stays counted."""
        ...


def default_name(limit: int, window_ns: int) -> str:
    return f"{limit}-per-{to_seconds(window_ns):g}s"


def check_window(window_ns: int) -> int:
    """``window_ns`` if it is a positive integer count of nanoseconds; a float here is a unit mistake."""
    if isinstance(window_ns, bool) or not isinstance(window_ns, int) or window_ns < 1:
        raise TypeError(f"window_ns must be a positive int of nanoseconds (mock_server.ticks), got {window_ns!r}")
    return window_ns


def units(p: Policy, cost: int) -> int:
    """What a request of ``cost`` counts in tier ``p``: its cost in a ``"tokens"`` tier, else 1."""
    return cost if p.unit == "tokens" else 1


class Tiered:
    """Several tiers at once: a request is accepted only when every tier has room, and is then
    counted in every tier (1 in a request tier, its ``cost`` in a token tier: :func:`units`).
    Optionally, a rejection is counted too (``penalty``) and locks the caller out for ``lockout_ns``
    (each rejection during a lockout extends it).

    >>> from mock_server.policies.sliding_log import SlidingLog
    >>> S = NS_PER_S
    >>> t = Tiered([SlidingLog(2, S)])
    >>> [t.decide(0).allowed, t.decide(S // 10).allowed, t.decide(S // 5).allowed, t.decide(S).allowed]
    [True, True, False, True]
    """

    def __init__(self, tiers: Sequence[Policy], *, penalty: bool = False, lockout_ns: int = 0) -> None:
        self.tiers = list(tiers)
        self.penalty = penalty
        self.lockout_ns = lockout_ns
        self.locked_until: int | None = None

    def earliest(self, now: int, cost: int = 1) -> int:
        # One tier's wait can land inside another's full period (fixed windows), so iterate to a fixpoint.
        t = now if self.locked_until is None else max(now, self.locked_until)
        for _ in range(1000):
            nxt = max((p.earliest(t, units(p, cost)) for p in self.tiers), default=t)
            if nxt == t:
                return t
            t = nxt
        return t

    def record(self, now: int, cost: int = 1) -> None:
        """Count a request in every tier (what the oracle does after :meth:`earliest` offered ``now``)."""
        for p in self.tiers:
            p.record(now, units(p, cost))

    def max_cost(self) -> int | None:
        """The largest cost any request can ever be accepted with (the smallest token tier's capacity),
        or ``None`` when no tier counts tokens."""
        return min((p.capacity for p in self.tiers if p.unit == "tokens"), default=None)

    def decide(self, now: int, cost: int = 1) -> Decision:
        """Accept (and count) or reject a request of ``cost`` units at ``now``; ``cost`` must not exceed
        :meth:`max_cost` (the app refuses such a request with a 400 before asking)."""
        tiers = self.tiers
        locked = self.locked_until is not None and now < self.locked_until
        allowed = not locked and all(p.earliest(now, units(p, cost)) <= now for p in tiers)
        if allowed or self.penalty:
            for p in tiers:
                p.record(now, units(p, cost))
        if not allowed and self.lockout_ns > 0:
            until = now + self.lockout_ns
            self.locked_until = until if self.locked_until is None else max(self.locked_until, until)
        if not tiers:
            return Decision(allowed, 0, 0, 0, 0 if allowed else self.earliest(now, cost) - now)
        if len(tiers) == 1:
            tier, remaining = tiers[0], tiers[0].remaining(now)
        elif any(p.unit == "tokens" for p in tiers):
            # Requests and tokens cannot be compared by count: the smallest share of capacity left.
            _, _, i = min((p.remaining(now) / p.capacity, -p.window_ns, i) for i, p in enumerate(tiers))
            tier = tiers[i]
            remaining = tier.remaining(now)
        else:
            # Fewest left; on a tie the longer window, whose exhaustion lasts longer.
            remaining, _, i = min((p.remaining(now), -p.window_ns, i) for i, p in enumerate(tiers))
            tier = tiers[i]
        retry = 0 if allowed else self.earliest(now, cost) - now
        return Decision(allowed, tier.capacity, remaining, tier.reset_after(now), retry, tier.window_ns,
                        tier.name, tiers, now)
