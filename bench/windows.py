"""Trailing-window counts: how many server arrivals the window ``W`` ending at each arrival holds.

The burst-accuracy chart plots this series against the limit ``L``; its maximum is the
``peak_window_count`` of docs/metrics.md (the busiest half-open window ``[s, s + W)`` always ends just after
an arrival, so looking back from every arrival finds it). Membership is the metric's and the server's:
an earlier arrival ``a`` still counts at ``t`` iff ``a + W > t``, compared exactly — so give integer
ticks (nanoseconds, :mod:`mock_server.ticks`) with ``window`` in the same unit, not float seconds, whose
sums round (``0.14 + 1.0`` is ``1.1400000000000001``). Nothing here reads a clock.

>>> trailing_counts([0, 1_000, 1_000, 2_000], 1_000)  # exactly W old is out
[1, 2, 2, 1]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

__all__ = ["max_envelope", "trailing_counts"]

T = TypeVar("T", int, float)


def trailing_counts(times: Iterable[T], window: T) -> list[int]:
    """For each time, in ascending order, the number of times in ``(t - window, t]`` (this one included).

    The result is aligned with ``sorted(times)``. Ties count together: each of ``n`` equal times
    sees all ``n``. O(n) after sorting (two pointers).

    >>> trailing_counts([200, 100, 100], 1_000)  # sorted: 100, 100, 200
    [2, 2, 3]
    >>> trailing_counts([], 1_000)
    []
    """
    if not window > 0:
        raise ValueError(f"trailing_counts: window must be > 0, got {window!r}")
    ts = sorted(times)
    n = len(ts)
    out = [0] * n
    i = 0  # first time still inside the window ending at ts[j]
    j = 0
    while j < n:
        t = ts[j]
        k = j
        while k + 1 < n and ts[k + 1] == t:  # equal times: one instant, one count for all of them
            k += 1
        while ts[i] + window <= t:
            i += 1
        count = k - i + 1
        for m in range(j, k + 1):
            out[m] = count
        j = k + 1
    return out


def max_envelope(xs: Sequence[float], ys: Sequence[int], x_end: float, bins: int) -> tuple[list[float], list[int]]:
    """At most ``bins`` points that keep every peak: the largest ``y`` in each of ``bins`` equal slices
    of ``[0, x_end]``, at the ``x`` where it first occurs; empty slices are skipped.

    A chart drawn from the envelope is bounded in size whatever the run's length, and still shows
    every crossing of a limit line: the maximum of each slice survives (so the envelope's maximum is
    the series' maximum). ``xs`` must be ascending and within ``[0, x_end]`` (values outside are
    clamped to the first or last slice).

    >>> max_envelope([0.0, 0.1, 0.6, 0.7], [1, 3, 2, 1], 1.0, 2)
    ([0.1, 0.6], [3, 2])
    """
    if bins < 1:
        raise ValueError(f"max_envelope: bins must be >= 1, got {bins!r}")
    if len(xs) != len(ys):
        raise ValueError(f"max_envelope: {len(xs)} xs but {len(ys)} ys")
    if len(xs) <= bins:
        return list(xs), list(ys)
    width = x_end / bins if x_end > 0 else 1.0
    best_x: dict[int, float] = {}
    best_y: dict[int, int] = {}
    for x, y in zip(xs, ys, strict=True):
        b = min(bins - 1, max(0, int(x / width)))
        if b not in best_y or y > best_y[b]:
            best_y[b], best_x[b] = y, x
    order = sorted(best_y)
    return [best_x[b] for b in order], [best_y[b] for b in order]
