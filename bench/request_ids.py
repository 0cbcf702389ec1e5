"""Request ids: how one attempt is named on the wire, in the server's log and in both CSV files.

An id is ``j<job>.<attempt>`` plus, over a socket, the run's tag (``.<hex>``, :data:`bench.runner.RUN_TAG`).
The leading letter is what makes it a string to every reader: a bare ``1.10`` is read as the float 1.1 by
pandas, duckdb or a spreadsheet, and then job 1's tenth attempt collides with its first.

>>> request_id(1, 10), request_id(1, 1), request_id(7, 2, ".3f2a9c1b")
('j1.10', 'j1.1', 'j7.2.3f2a9c1b')
>>> parse("j1.10"), parse("j7.2.3f2a9c1b"), parse("r0"), parse("1.10")
((1, 10), (7, 2), None, None)
"""

from __future__ import annotations

import re

__all__ = ["parse", "request_id"]

_ID = re.compile(r"j(\d+)\.(\d+)(?:\.[0-9a-f]+)?")


def request_id(job: int, attempt: int, tag: str = "") -> str:
    """The id of ``job``'s ``attempt``-th request (1-based), with the run's ``tag`` ("" in-process)."""
    return f"j{job}.{attempt}{tag}"


def parse(rid: str) -> tuple[int, int] | None:
    """``(job, attempt)`` of an id this harness made, else ``None`` (someone else's request)."""
    m = _ID.fullmatch(rid)
    return None if m is None else (int(m[1]), int(m[2]))
