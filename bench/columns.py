"""One run's records as columns: a few bytes per attempt and per arrival, not a Python object each.

A big run (10⁵–10⁷ attempts) cannot hold one :class:`~bench.records.Attempt` and one
:class:`~mock_server.log.Arrival` per request: each is ~100–200 bytes of objects (the dataclass, its
floats, its request-id string). The exact percentiles of docs/metrics.md need every value, so the values are
kept, packed in :mod:`array` columns (8 bytes a number), and records are built one at a time when
someone iterates: :class:`AttemptColumns` and :class:`ArrivalColumns` are read-only sequences of the
same records as before, so every user that iterates, indexes or takes ``len`` works unchanged.

>>> from bench.records import Attempt
>>> cols = AttemptColumns.of([Attempt(3, 1, 0.0, 0.5, None, 0.6, 200)])
>>> len(cols), cols[0] == Attempt(3, 1, 0.0, 0.5, None, 0.6, 200)
(1, True)
>>> arr = ArrivalColumns()
>>> arr.add("j3.1.ab12", 500_000_000, 200, "", 1, 1)
>>> arr[0].request_id, arr.own(0, ("j", ".ab12")), arr.own(0, ("j", ""))
('j3.1.ab12', (3, 1), None)
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TypeVar, overload

import numpy as np

from bench.records import Attempt
from mock_server.log import Arrival

__all__ = ["NO_NS", "ArrivalColumns", "AttemptColumns", "Tries", "id_shape"]

T = TypeVar("T", bound=Hashable)

#: ``arrival_ns`` of an attempt that never reached the server (``None`` in the record).
NO_NS = -(2**63)
_NAN = math.nan


def _ordered(col: array, perm: np.ndarray) -> array:  # type: ignore[type-arg]
    # A column permuted: through numpy (8 bytes an index), the values copied bit for bit.
    out = array(col.typecode)
    out.frombytes(np.frombuffer(col, dtype=np.dtype(col.typecode)).take(perm).tobytes())
    return out


class AttemptColumns(Sequence[Attempt]):
    """The client's attempts of one run, one column per :class:`Attempt` field (~61 bytes an attempt).

    ``crowded`` marks attempts sent while the run already had many requests in flight
    (:data:`bench.harness_lag.CROWD`): the transit figure leaves them out.
    """

    def __init__(self) -> None:
        self.job, self.attempt = array("q"), array("q")
        self.intended_s, self.sent_s, self.arrival_s, self.done_s = array("d"), array("d"), array("d"), array("d")
        self.status = array("i")
        self.arrival_ns = array("q")
        self.crowded = bytearray()

    @classmethod
    def of(cls, attempts: Iterable[Attempt]) -> AttemptColumns:
        """``attempts`` as columns (returned as is when they already are)."""
        if isinstance(attempts, AttemptColumns):
            return attempts
        out = cls()
        for a in attempts:
            out.append(a.job, a.attempt, a.intended_s, a.sent_s, a.done_s, a.status, arrival_s=a.arrival_s,
                       arrival_ns=a.arrival_ns)
        return out

    def append(self, job: int, attempt: int, intended_s: float, sent_s: float, done_s: float, status: int, *,
               crowded: bool = False, arrival_s: float | None = None, arrival_ns: int | None = None) -> None:
        self.job.append(job)
        self.attempt.append(attempt)
        self.intended_s.append(intended_s)
        self.sent_s.append(sent_s)
        self.arrival_s.append(_NAN if arrival_s is None else arrival_s)
        self.done_s.append(done_s)
        self.status.append(status)
        self.arrival_ns.append(NO_NS if arrival_ns is None else arrival_ns)
        self.crowded.append(1 if crowded else 0)

    def __len__(self) -> int:
        return len(self.job)

    @overload
    def __getitem__(self, i: int) -> Attempt: ...

    @overload
    def __getitem__(self, i: slice) -> list[Attempt]: ...

    def __getitem__(self, i: int | slice) -> Attempt | list[Attempt]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("AttemptColumns index out of range")
        ns, s = self.arrival_ns[i], self.arrival_s[i]
        return Attempt(self.job[i], self.attempt[i], self.intended_s[i], self.sent_s[i], None if s != s else s,
                       self.done_s[i], self.status[i], None if ns == NO_NS else ns)

    def __iter__(self) -> Iterator[Attempt]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"AttemptColumns({len(self)} attempts)"

    def sent_arrival(self, i: int) -> tuple[float, float | None]:
        """Attempt ``i``'s ``(sent_s, arrival_s)``."""
        s = self.arrival_s[i]
        return self.sent_s[i], None if s != s else s

    def by_send(self) -> AttemptColumns:
        """These columns put in the order the harness reports attempts, by ``(sent_s, job, attempt)`` with ties
        kept in order; in place (one column copied at a time: a big run does not hold two copies) and returned."""
        perm = np.lexsort((np.frombuffer(self.attempt, np.int64), np.frombuffer(self.job, np.int64),
                           np.frombuffer(self.sent_s, np.float64)))
        for name in ("job", "attempt", "intended_s", "sent_s", "arrival_s", "done_s", "status", "arrival_ns"):
            setattr(self, name, _ordered(getattr(self, name), perm))
        self.crowded = bytearray(np.frombuffer(bytes(self.crowded), np.uint8).take(perm).tobytes())
        return self

    def join(self, tries: Tries, ns_by_slot: array) -> None:  # type: ignore[type-arg]
        """Set each attempt's arrival from ``ns_by_slot`` (:meth:`Tries.slot` → server ns, or the sentinel)."""
        for i in range(len(self)):
            ns = ns_by_slot[tries.slot(self.job[i], self.attempt[i])]
            self.arrival_ns[i] = ns
            self.arrival_s[i] = _NAN if ns == NO_NS else ns / 1_000_000_000


class Tries:
    """How many attempts each job has had, by job id (4 bytes a job), and each attempt's slot among all.

    The harness's job ids are ``0 .. jobs - 1``, released in order: the counts grow with them, packed. An id
    far outside that (only a strategy that forges jobs sends one) is counted aside. A slot numbers every
    ``(job, attempt)`` densely (0 .. attempts - 1), so a join to the server's log needs arrays, not dicts.

    >>> t = Tries()
    >>> t.next(0), t.next(2), t.next(0), t.next(-5), t.total
    (1, 1, 2, 1, 4)
    >>> t.freeze(); [t.slot(0, 1), t.slot(0, 2), t.slot(2, 1), t.slot(-5, 1)], t.has(1, 1), t.has(2, 2)
    ([0, 1, 2, 3], False, False)
    """

    def __init__(self) -> None:
        self._n = array("I")
        self._other: dict[int, int] = {}  # job ids outside the packed range -> attempts
        self._offsets: array | None = None  # type: ignore[type-arg]
        self._other_offsets: dict[int, int] = {}
        self.total = 0

    def next(self, job: int) -> int:
        """Count one more attempt of ``job``; its 1-based number."""
        n = self._n
        self.total += 1
        if 0 <= job < len(n) + 4096 and job not in self._other:
            if job >= len(n):
                n.frombytes(bytes(4 * (max(job + 1, 2 * len(n)) - len(n))))
            n[job] += 1
            return n[job]
        k = self._other[job] = self._other.get(job, 0) + 1
        return k

    def has(self, job: int, attempt: int) -> bool:
        if 0 <= job < len(self._n) and self._n[job]:
            return 1 <= attempt <= self._n[job]
        return 1 <= attempt <= self._other.get(job, 0)

    def freeze(self) -> None:
        """Compute the slots (after the last attempt)."""
        counts = np.frombuffer(self._n, np.uint32).astype(np.int64)
        offsets = np.zeros(len(counts), np.int64)
        if len(counts):
            np.cumsum(counts[:-1], out=offsets[1:])
        self._offsets = array("q", offsets.tobytes())
        at = int(counts.sum())
        for job in sorted(self._other):
            self._other_offsets[job] = at
            at += self._other[job]

    def slot(self, job: int, attempt: int) -> int:
        """Where ``(job, attempt)`` (one that :meth:`has`) sits among all attempts."""
        assert self._offsets is not None, "Tries.freeze() first"
        if 0 <= job < len(self._n) and self._n[job]:
            return int(self._offsets[job]) + attempt - 1
        return self._other_offsets[job] + attempt - 1


class ArrivalColumns(Sequence[Arrival]):
    """The server's arrivals of one run as columns (~52 bytes an arrival, whatever the request id's length).

    A request id of the form ``<prefix><job>.<attempt><suffix>`` (the harness's own: a prefix without digits or
    dots, decimal numbers as ``str(int)`` writes them, then the run's tag) is kept as two numbers and the index
    of its *shape* ``(prefix, suffix)``, shared by the run; any other id (foreign traffic) is kept as it came.
    Keys are shared the same way.
    """

    def __init__(self) -> None:
        self.t_ns, self.status, self.in_flight, self.cost = array("q"), array("i"), array("q"), array("q")
        self.job, self.attempt = array("q"), array("q")
        self._shape, self._key = array("i"), array("i")
        self._shapes: list[tuple[str, str]] = []
        self._keys: list[str] = []
        self._shape_index: dict[tuple[str, str], int] = {}  # shape -> position in _shapes
        self._key_index: dict[str, int] = {}
        self._odd: dict[int, str] = {}  # row -> request id not of the harness's form

    @classmethod
    def of(cls, arrivals: Iterable[Arrival]) -> ArrivalColumns:
        """``arrivals`` as columns (returned as is when they already are)."""
        if isinstance(arrivals, ArrivalColumns):
            return arrivals
        out = cls()
        for a in arrivals:
            out.add(a.request_id, a.t_ns, a.status, a.key, a.in_flight, a.cost)
        return out

    def add(self, request_id: str, t_ns: int, status: int, key: str, in_flight: int, cost: int) -> None:
        row = len(self.t_ns)
        job, attempt, shape = _parse_id(request_id)
        if job < 0:
            self._odd[row] = request_id
        self.t_ns.append(t_ns)
        self.status.append(status)
        self.in_flight.append(in_flight)
        self.cost.append(cost)
        self.job.append(job)
        self.attempt.append(attempt)
        self._shape.append(_intern(shape, self._shape_index, self._shapes))
        self._key.append(_intern(key, self._key_index, self._keys))

    def shift(self, origin_ns: int) -> None:
        """Make every time relative to ``origin_ns`` (in place, exact integer arithmetic)."""
        if len(self.t_ns):
            np.frombuffer(self.t_ns, np.int64)[:] -= origin_ns

    def own(self, i: int, shape: tuple[str, str]) -> tuple[int, int] | None:
        """``(job, attempt)`` if row ``i``'s id is ``f"{prefix}{job}.{attempt}{suffix}"`` for ``shape`` =
        ``(prefix, suffix)`` (:func:`id_shape`), else ``None``."""
        if self.job[i] < 0 or self._shapes[self._shape[i]] != shape:
            return None
        return self.job[i], self.attempt[i]

    def request_id(self, i: int) -> str:
        odd = self._odd.get(i)
        if odd is not None:
            return odd
        prefix, suffix = self._shapes[self._shape[i]]
        return f"{prefix}{self.job[i]}.{self.attempt[i]}{suffix}"

    def __len__(self) -> int:
        return len(self.t_ns)

    @overload
    def __getitem__(self, i: int) -> Arrival: ...

    @overload
    def __getitem__(self, i: slice) -> list[Arrival]: ...

    def __getitem__(self, i: int | slice) -> Arrival | list[Arrival]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("ArrivalColumns index out of range")
        return Arrival(self.request_id(i), self.t_ns[i], self.status[i], self._keys[self._key[i]], self.in_flight[i],
                       self.cost[i])

    def __iter__(self) -> Iterator[Arrival]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"ArrivalColumns({len(self)} arrivals)"

    def by_time(self) -> Iterator[Arrival]:
        """The arrivals by ``t_ns``, those at the same instant in log order (a stable sort of the rows)."""
        order = np.argsort(np.frombuffer(self.t_ns, np.int64), kind="stable")
        return (self[int(i)] for i in order)


def id_shape(request_id: Callable[[int, int], str]) -> tuple[str, str]:
    """The ``(prefix, suffix)`` of the ids ``request_id(job, attempt)`` makes, which must be
    ``f"{prefix}{job}.{attempt}{suffix}"`` with a prefix of no digits or dots (:class:`ArrivalColumns` keeps such
    ids as numbers).

    >>> id_shape(lambda j, a: f"j{j}.{a}.ab12"), id_shape(lambda j, a: f"{j}.{a}")
    (('j', '.ab12'), ('', ''))
    """
    job, attempt, shape = _parse_id(request_id(12, 34))
    if (job, attempt) != (12, 34) or request_id(5, 1) != f"{shape[0]}5.1{shape[1]}":
        raise ValueError(f"request ids like {request_id(12, 34)!r} are not <prefix><job>.<attempt><suffix>")
    return shape


def _intern(s: T, index: dict[T, int], table: list[T]) -> int:
    k = index.get(s)
    if k is None:
        k = index[s] = len(table)
        table.append(s)
    return k


_NO_SHAPE = ("", "")


def _parse_id(rid: str) -> tuple[int, int, tuple[str, str]]:
    """``(job, attempt, (prefix, suffix))`` for an id ``f"{prefix}{job}.{attempt}{suffix}"`` writes (so it
    round-trips exactly; the prefix has no digit or dot); ``(-1, 0, ("", ""))`` otherwise.

    >>> _parse_id("12.3.ab"), _parse_id("j12.3"), _parse_id("012.3"), _parse_id("r1")
    ((12, 3, ('', '.ab')), (12, 3, ('j', '')), (-1, 0, ('', '')), (-1, 0, ('', '')))
    """
    start = 0
    while start < len(rid) and not "0" <= rid[start] <= "9":
        if rid[start] == ".":
            return -1, 0, _NO_SHAPE
        start += 1
    dot = rid.find(".", start)
    head = rid[start:dot]
    if dot <= start or not (head.isascii() and head.isdigit()) or (head[0] == "0" and len(head) > 1) or len(head) > 18:
        return -1, 0, _NO_SHAPE
    end = dot + 1
    while end < len(rid) and "0" <= rid[end] <= "9":
        end += 1
    tail = rid[dot + 1:end]
    if not tail or (tail[0] == "0" and len(tail) > 1) or len(tail) > 18:
        return -1, 0, _NO_SHAPE
    return int(head), int(tail), (rid[:start], rid[end:])
