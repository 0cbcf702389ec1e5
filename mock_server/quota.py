"""The quota state of one server run: which tiers a request counts against, per API key, and the
dynamics (limit schedule, noisy neighbour, penalty, lockout) applied as time passes. Server time is
integer nanoseconds (:mod:`mock_server.ticks`).

Each API key (read from the configured header; requests without it share the default key ``""``)
gets its own counters for the default tiers, or its own tiers if ``[server.keys.<key>]`` names it.
Tiers with ``scope = "global"`` are one shared counter that every key's requests count against.

>>> from mock_server.config import ServerConfig
>>> c = ServerConfig.from_dict({"quota": [{"limit": 1, "window_s": 1.0},
...                                       {"limit": 3, "window_s": 1.0, "scope": "global"}]})
>>> q = QuotaState(c, start=0)
>>> [q.decide(k, 0).allowed for k in ("a", "a", "b", "c", "d")]
[True, False, True, True, False]
"""

from __future__ import annotations

from dataclasses import replace

from mock_server.config import LimitChange, ServerConfig
from mock_server.dynamics import Events
from mock_server.policies import Decision, Policy, Tiered, build_one
from mock_server.ticks import from_seconds

#: Distinct API keys remembered at once; past this the oldest key's counters are forgotten, so a client
#: inventing keys cannot grow the server's memory without bound.
MAX_KEYS = 10_000


class QuotaState:
    def __init__(self, config: ServerConfig, start: int) -> None:
        dyn = config.dynamics
        self._penalty = dyn.penalty
        self._lockout_ns = from_seconds(dyn.lockout_s)
        self._defaults = list(config.quota)  # their limits follow the schedule
        self._globals: dict[int, Policy] = {
            i: build_one(q) for i, q in enumerate(config.quota) if q.scope == "global"
        }
        self._named = {k.key: k.quota for k in config.keys}
        self._keys: dict[str, Tiered] = {}
        self._events = Events(dyn, start)
        self._next_event = self._events.next_at
        self._neighbour_key = dyn.neighbour.key if dyn.neighbour else ""
        self.neighbour_sent = 0
        self.neighbour_accepted = 0

    def limiter(self, key: str) -> Tiered:
        """The tiers one key's requests are decided by (created on its first request)."""
        lim = self._keys.get(key)
        if lim is None:
            if key in self._named:
                tiers = [build_one(q) for q in self._named[key]] + list(self._globals.values())
            else:
                tiers = [self._globals[i] if i in self._globals else build_one(q)
                         for i, q in enumerate(self._defaults)]
            lim = Tiered(tiers, penalty=self._penalty, lockout_ns=self._lockout_ns)
            if len(self._keys) >= MAX_KEYS:
                del self._keys[next(iter(self._keys))]
            self._keys[key] = lim
        return lim

    def decide(self, key: str, now: int, cost: int = 1) -> Decision:
        """Accept or reject (and count) a request of ``key`` and ``cost`` at server time ``now`` (integer ns)."""
        if now >= self._next_event:
            self._catch_up(now)
        return self.limiter(key).decide(now, cost)

    def catch_up(self, now: int) -> None:
        """Apply the dynamics due by ``now`` (requests do this as they arrive; ``GET /__admin/log`` too, so the
        neighbour's count covers the whole run, up to its last response)."""
        if now >= self._next_event:
            self._catch_up(now)

    @property
    def neighbour_rejected(self) -> int:
        """The noisy neighbour's requests the quota rejected so far (``sent - accepted``)."""
        return self.neighbour_sent - self.neighbour_accepted

    def _catch_up(self, now: int) -> None:
        while (ev := self._events.pop(now)) is not None:
            t, change = ev
            if change is None:
                self.neighbour_sent += 1
                self.neighbour_accepted += self.limiter(self._neighbour_key).decide(t).allowed
            else:
                self._apply(change)
        self._next_event = self._events.next_at

    def _apply(self, change: LimitChange) -> None:
        i = change.tier
        self._defaults[i] = replace(self._defaults[i], limit=change.limit)
        if i in self._globals:
            self._globals[i].set_limit(change.limit)
            return
        for key, lim in self._keys.items():
            if key not in self._named:
                lim.tiers[i].set_limit(change.limit)
