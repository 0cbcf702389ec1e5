"""The arrival log: ground truth for every burst metric.

One record per API request as the server saw it: request id (the client's ``x-request-id``), server
time in integer nanoseconds (the clock the policies decided by, so the window metrics count the same
ticks), status answered, API key, requests in flight at the arrival (this one included), and the
request's cost (the units a ``unit = "tokens"`` tier counts it as; 1 by default). The hot
path appends a tuple; everything else (objects, JSON, CSV) happens when the log is read.

Three sinks, chosen by ``[server.log]``:

* :class:`ArrivalLog` (default): in memory, bounded: past ``limit`` records, or ``max_bytes`` of them,
  the oldest are dropped (and counted), so a long run cannot grow the server's memory without bound;
* :class:`FileLog`: every record streamed to a CSV file in batches (memory stays flat however long
  the run); ``/__admin/log`` reads it back;
* :class:`NullLog`: nothing (to measure what logging costs).

>>> log = ArrivalLog(limit=2)
>>> for i in range(3):
...     log.add(str(i), i * 1_000_000_000, 200, "", 1)
>>> [a.request_id for a in log], log.dropped
(['1', '2'], 1)
>>> a = from_json(log.to_json())[0]
>>> a, a.t
(Arrival(request_id='1', t_ns=1000000000, status=200, key='', in_flight=1, cost=1), 1.0)

Request ids and keys come from request headers, so both sinks keep at most :data:`MAX_FIELD`
characters of each (a longer id never matches a client's own and is reported as foreign anyway):

>>> log.add("x" * 10_000, 3_000_000_000, 200, "", 1)
>>> len(list(log)[-1].request_id)
200
"""

from __future__ import annotations

import csv
import itertools
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mock_server.ticks import to_seconds

FIELDS = ["request_id", "t_ns", "status", "key", "in_flight", "cost"]
Record = tuple[str, int, int, str, int, int]
#: Characters kept of a request id or key (they are client-chosen header values, up to the header limit).
MAX_FIELD = 200
#: Most records one page of ``/__admin/log?since=&limit=`` returns (a page of 10⁵ is ~7 MB of JSON).
MAX_PAGE = 100_000
#: What one in-memory record costs besides its id and key characters (tuple, int, deque slot; measured
#: with tracemalloc on CPython 3.11: ~177 bytes for a 15-character id).
RECORD_BYTES = 160


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request as the mock server logged it: the ground truth for burst metrics."""

    request_id: str
    t_ns: int  # server clock in integer nanoseconds; relative to run start once joined
    status: int
    key: str = ""
    in_flight: int = 1  # requests being served at the server at this arrival, this one included
    cost: int = 1  # the request's declared cost (x-cost): what a token tier counts it as

    def __post_init__(self) -> None:
        if isinstance(self.t_ns, bool) or not isinstance(self.t_ns, int):
            raise TypeError(f"Arrival.t_ns must be an int of nanoseconds, got {self.t_ns!r}")

    @property
    def t(self) -> float:
        """The same instant in seconds, for display (the metrics count :attr:`t_ns`)."""
        return to_seconds(self.t_ns)


class Sink(Protocol):
    """What the app needs of a log."""

    total: int  # arrivals logged since the reset

    def add(self, request_id: str, t_ns: int, status: int, key: str, in_flight: int, cost: int = 1) -> None: ...

    def to_json(self) -> dict[str, Any]: ...

    def page(self, since: int, limit: int) -> dict[str, Any]:
        """Records ``since`` (0 = the first logged since the reset) up to ``limit`` of them: :func:`_page`."""
        ...

    def close(self) -> None: ...


def _json(records: list[Record] | list[list[Any]], dropped: int, sink: str) -> dict[str, Any]:
    return {"fields": FIELDS, "arrivals": records, "dropped": dropped, "sink": sink}


def _page(records: Iterable[Record] | Iterable[list[Any]], start: int, dropped: int, total: int,
          sink: str) -> dict[str, Any]:
    """One page: :func:`_json`'s fields plus ``since`` (the first record's number: later than asked when the
    records asked for were dropped), ``next`` (the number to ask for next) and ``total`` (logged so far).

    A ``start`` past the end is clamped to ``total``: the page is empty and ``next`` is ``total``, so a client
    that follows ``next`` reads the records logged later instead of skipping them. ``next`` never exceeds
    ``total``.

    >>> p = _page([], 999, 0, 7, "memory")
    >>> p["since"], p["next"], p["total"]
    (7, 7, 7)
    """
    rows: list[Any] = list(records)
    start = min(start, total)
    return {**_json(rows, dropped, sink), "since": start, "next": start + len(rows), "total": total}


class ArrivalLog:
    """The last ``limit`` arrivals in memory, and no more than about ``max_bytes`` of them."""

    def __init__(self, limit: int = 1_000_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._entries: deque[Record] = deque()
        self._limit = limit
        self._max_bytes = max_bytes
        self.bytes = 0  # estimated size of the records held
        self.total = 0

    def add(self, request_id: str, t_ns: int, status: int, key: str, in_flight: int, cost: int = 1) -> None:
        if len(request_id) > MAX_FIELD:
            request_id = request_id[:MAX_FIELD]
        if len(key) > MAX_FIELD:
            key = key[:MAX_FIELD]
        e = self._entries
        if len(e) >= self._limit:
            self._drop_oldest()
        e.append((request_id, t_ns, status, key, in_flight, cost))
        self.bytes += RECORD_BYTES + len(request_id) + len(key)
        self.total += 1
        while self.bytes > self._max_bytes and len(e) > 1:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        r = self._entries.popleft()
        self.bytes -= RECORD_BYTES + len(r[0]) + len(r[3])

    def append(self, arrival: Arrival) -> None:
        self.add(arrival.request_id, arrival.t_ns, arrival.status, arrival.key, arrival.in_flight, arrival.cost)

    @property
    def dropped(self) -> int:
        return self.total - len(self._entries)

    def __iter__(self) -> Iterator[Arrival]:
        return (Arrival(*r) for r in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def to_json(self) -> dict[str, Any]:
        """Compact form for ``/__admin/log``: one list per arrival, fields named once."""
        return _json(list(self._entries), self.dropped, "memory")

    def page(self, since: int, limit: int) -> dict[str, Any]:
        """A page of the records still held (numbered from the reset: the oldest held is ``dropped``).

        >>> log = ArrivalLog(limit=3)
        >>> for i in range(5):
        ...     log.add(str(i), i, 200, "", 1)
        >>> p = log.page(0, 2)  # 0 and 1 were dropped: the page starts at 2
        >>> [r[0] for r in p["arrivals"]], p["since"], p["next"], p["dropped"], p["total"]
        (['2', '3'], 2, 4, 2, 5)
        """
        start = max(since, self.dropped)
        first = start - self.dropped
        return _page(itertools.islice(self._entries, first, first + limit), start, self.dropped, self.total, "memory")

    def close(self) -> None:
        pass


class FileLog:
    """Every arrival, appended to a CSV file (header ``request_id,t_ns,status,key,in_flight,cost``).

    Records are buffered and written ``batch`` at a time; :meth:`flush` (called by :meth:`to_json`,
    :meth:`close` and the server's shutdown) writes the rest. The file is truncated when the log is
    created, i.e. at each reset.
    """

    def __init__(self, path: str | Path, batch: int = 4096) -> None:
        self.path = Path(path)
        # O_NOFOLLOW: a symlink planted at the log's name must not redirect the truncation elsewhere.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        self._f = os.fdopen(fd, "w", newline="", encoding="utf-8")
        self._w = csv.writer(self._f)
        self._w.writerow(FIELDS)
        self._buf: list[Record] = []
        self._batch = batch
        self.total = 0

    def add(self, request_id: str, t_ns: int, status: int, key: str, in_flight: int, cost: int = 1) -> None:
        self._buf.append((request_id[:MAX_FIELD], t_ns, status, key[:MAX_FIELD], in_flight, cost))
        self.total += 1
        if len(self._buf) >= self._batch:
            self.flush()

    def flush(self) -> None:
        if self._buf and not self._f.closed:
            self._w.writerows(self._buf)
            self._buf.clear()
            self._f.flush()

    def to_json(self) -> dict[str, Any]:
        self.flush()
        with self.path.open(newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            next(rows, None)
            records = [[r[0], int(r[1]), int(r[2]), r[3], int(r[4]), int(r[5]) if len(r) > 5 else 1] for r in rows]
        return _json(records, 0, f"file:{self.path}")

    def page(self, since: int, limit: int) -> dict[str, Any]:
        # Reads past the first ``since`` rows each time: paging a file log of n rows costs O(n² / limit) rows read.
        self.flush()
        with self.path.open(newline="", encoding="utf-8") as f:
            rows = itertools.islice(csv.reader(f), since + 1, since + 1 + limit)
            records = [[r[0], int(r[1]), int(r[2]), r[3], int(r[4]), int(r[5]) if len(r) > 5 else 1] for r in rows]
        return _page(records, since, 0, self.total, f"file:{self.path}")

    def close(self) -> None:
        self.flush()
        self._f.close()


class NullLog:
    """Logs nothing; ``/__admin/log`` is empty."""

    total = 0

    def add(self, request_id: str, t_ns: int, status: int, key: str, in_flight: int, cost: int = 1) -> None:
        pass

    def to_json(self) -> dict[str, Any]:
        return _json([], 0, "off")

    def page(self, since: int, limit: int) -> dict[str, Any]:
        return _page([], since, 0, 0, "off")

    def close(self) -> None:
        pass


def from_json(data: dict[str, Any]) -> list[Arrival]:
    """Inverse of ``to_json()`` (``/__admin/log``); records without a cost (older servers) cost 1."""
    return [Arrival(request_id=r[0], t_ns=r[1], status=r[2], key=r[3], in_flight=r[4],
                    cost=r[5] if len(r) > 5 else 1) for r in data["arrivals"]]

