"""The live count of the run in progress, for the progress display (:mod:`bench.progress`).

The runner's ``send`` counts each attempt as it finishes (:func:`count`); the display reads the counts
from another thread while the run goes on. Plain ints: a read may be one attempt behind, never wrong after
the run. Only one run is in progress at a time (the CLI runs them one after another).

>>> LIVE.reset(jobs=3, rejected={429})
>>> for status in (200, 429, 200): LIVE.count(status)
>>> LIVE.attempts, LIVE.done, LIVE.rejected
(3, 2, 1)
"""

from __future__ import annotations

from collections.abc import Collection


class Tally:
    """Attempts, successes (2xx) and rejections of the current run; ``jobs``: how many it has."""

    def __init__(self) -> None:
        self.jobs = 0
        self.attempts = 0
        self.done = 0
        self.rejected = 0
        self._reject: Collection[int] = frozenset({429})

    def reset(self, jobs: int, rejected: Collection[int]) -> None:
        self.jobs, self.attempts, self.done, self.rejected = jobs, 0, 0, 0
        self._reject = frozenset(rejected)

    def count(self, status: int) -> None:
        self.attempts += 1
        if 200 <= status < 300:
            self.done += 1
        elif status in self._reject:
            self.rejected += 1


#: The one tally the runner writes and the progress display reads.
LIVE = Tally()
