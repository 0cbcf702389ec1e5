"""The arrival log: ground truth for every burst metric.

Bounded: past ``limit`` entries the oldest are dropped (and counted), so a long run cannot grow the
server's memory without bound.

>>> log = ArrivalLog(limit=2)
>>> for i in range(3):
...     log.append(Arrival(str(i), float(i), 200))
>>> [a.request_id for a in log], log.dropped
(['1', '2'], 1)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any



@dataclass(frozen=True, slots=True)
class Arrival:
    """One request as the mock server logged it: the ground truth for burst metrics."""

    request_id: str
    t: float  # server clock; relative to run start once joined
    status: int
    key: str = ""
    in_flight: int = 1  # requests being served at the server at this arrival, this one included


class ArrivalLog:
    def __init__(self, limit: int = 1_000_000) -> None:
        self._entries: deque[Arrival] = deque(maxlen=limit)
        self.dropped = 0

    def append(self, arrival: Arrival) -> None:
        if len(self._entries) == self._entries.maxlen:
            self.dropped += 1
        self._entries.append(arrival)

    def __iter__(self) -> Iterator[Arrival]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def to_json(self) -> dict[str, Any]:
        """Compact form for ``/__admin/log``: one list per arrival, fields named once."""
        return {
            "fields": ["request_id", "t", "status", "key", "in_flight"],
            "arrivals": [[a.request_id, a.t, a.status, a.key, a.in_flight] for a in self._entries],
            "dropped": self.dropped,
        }


def from_json(data: dict[str, Any]) -> list[Arrival]:
    """Inverse of :meth:`ArrivalLog.to_json`."""
    return [Arrival(request_id=r[0], t=r[1], status=r[2], key=r[3], in_flight=r[4]) for r in data["arrivals"]]
