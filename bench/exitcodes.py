"""What ``ratebench``'s exit status means, in one place (README "Use in CI", docs/ci.md).

======  ==========================================================================================
code    meaning
======  ==========================================================================================
0       every run finished (status ``ok``), results written
1       interrupted (a signal, a dead server, a full disk, a report that could not be written):
        what was measured is kept, the run directory marked ``INCOMPLETE``
2       bad input (an unknown strategy or scenario, a malformed file, a bad option), before anything is run
3       the benchmark finished, but at least one strategy ``failed`` (raised) or hit ``timeout``: its row
        and reason are in the table; the other runs are as valid as with 0
======  ==========================================================================================

Accuracy (429s, bursts) is not judged here: ``ratebench check`` does that, with its own codes (0, 1, 2).

>>> for_runs([{"status": "ok"}, {"status": "ok"}], complete=True)
0
>>> for_runs([{"status": "ok"}, {"status": "timeout"}], complete=True)
3
>>> for_runs([{"status": "failed"}], complete=False)
1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

OK = 0
INTERRUPTED = 1
USAGE = 2
STRATEGY_FAILED = 3

#: Run statuses that make a finished benchmark exit 3.
FAILED_STATUSES = frozenset({"failed", "timeout"})


def for_runs(runs: Iterable[Mapping[str, Any]], *, complete: bool) -> int:
    """The exit code of ``ratebench run`` from its runs (``results.json`` entries) and whether it finished."""
    if not complete:
        return INTERRUPTED
    return STRATEGY_FAILED if any(r.get("status") in FAILED_STATUSES for r in runs) else OK
