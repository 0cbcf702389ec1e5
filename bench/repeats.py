"""Repeats that can be trusted: each metric as median and spread over a strategy's repeats, and a flag
where the spread is large against the median.

The spread is the **range** (min–max), not the IQR: with the few repeats a benchmark affords (3–5),
quartiles are interpolated between two or three values and say little more than the range, while the
range shows every repeat that was off. A metric is **unstable** when its range exceeds both
:data:`RELATIVE` × |median| and the precision the table shows it at (so 0 vs 1 × 429 is unstable, a
latency of 101 vs 102 ms is not): the report flags it with what to do (more repeats, a quieter machine).

>>> s = Spread.of([0.95, 0.97, 1.0])
>>> s.median, s.low, s.high, s.n
(0.97, 0.95, 1.0, 3)
>>> s.unstable(0.01), Spread.of([100.0, 101.0, 102.0]).unstable(1.0)
(False, False)
>>> Spread.of([0, 0, 2]).unstable(1.0)  # 429s in one repeat of three: median 0, range 2
True
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ADVICE", "RELATIVE", "Spread"]

#: A range wider than this share of the median is flagged.
RELATIVE = 0.10
#: What the flag tells the reader to do.
ADVICE = ("range wider than 10 % of the median (and than the figure's precision): the repeats disagree — "
          "run more repeats (--repeat 5 or more) or on a quieter machine before trusting the difference")


@dataclass(frozen=True)
class Spread:
    """Median and range (``low``–``high``) of one metric over ``n`` repeats (``None`` values left out)."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread | None:
        """``None`` when no repeat has a value."""
        present = [float(v) for v in values if v is not None]
        if not present:
            return None
        return cls(statistics.median(present), min(present), max(present), len(present))

    @property
    def width(self) -> float:
        return self.high - self.low

    def unstable(self, precision: float) -> bool:
        """The range exceeds both :data:`RELATIVE` × |median| and ``precision`` (the table's last digit)."""
        return self.n > 1 and self.width > max(RELATIVE * abs(self.median), precision)
