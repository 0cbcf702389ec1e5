"""Integer time: the mock's policies, its arrival log, the window metrics and the oracle all count
nanoseconds as Python ints, so "exactly one window old" means the same thing to every one of them.

Floats are for display only. A float sum such as ``0.14 + 1.0`` is ``1.1400000000000001``: compared
in floats, a request exactly one window after another still sees it in its window. In ticks the sum is
exact: ``140_000_000 + 1_000_000_000 == 1_140_000_000``.

Seconds become ticks once, with :func:`from_seconds` (a window when its config is read, a release
time when the oracle places it); ticks become seconds with :func:`to_seconds` for headers and tables.

>>> from_seconds(0.14) + from_seconds(1.0) == from_seconds(1.14), 0.14 + 1.0 == 1.14
(True, False)
>>> to_seconds(1_500_000_000), ceil_seconds(300_000_000), ceil_seconds(2 * NS_PER_S), ceil_seconds(0)
(1.5, 1, 2, 0)
"""

from __future__ import annotations

__all__ = ["MIN_WINDOW_NS", "NS_PER_S", "ceil_div", "ceil_seconds", "from_seconds", "to_seconds"]

#: Ticks per second.
NS_PER_S = 1_000_000_000
#: The shortest window a quota may have: one tick of the virtual loop (1 µs). Shorter windows cannot be
#: told apart by the virtual clock, and no real API counts below a microsecond.
MIN_WINDOW_NS = 1_000


def from_seconds(seconds: float) -> int:
    """Seconds to the nearest whole nanosecond (the one conversion every part uses).

    >>> from_seconds(0.1), from_seconds(1 / 3), from_seconds(2.5e-7)
    (100000000, 333333333, 250)
    """
    return round(seconds * NS_PER_S)


def to_seconds(ns: int) -> float:
    """Ticks to seconds, for display (the nearest float)."""
    return ns / NS_PER_S


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers, ``b > 0``, without a float in between.

    >>> ceil_div(7, 2), ceil_div(-7, 2), ceil_div(6, 3)
    (4, -3, 2)
    """
    return -(-a // b)


def ceil_seconds(ns: int) -> int:
    """Whole seconds, rounded up, as ``Retry-After`` and delta resets are sent (0.3 s is 1); >= 0."""
    return max(0, ceil_div(ns, NS_PER_S))
