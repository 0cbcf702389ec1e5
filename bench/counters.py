"""Strategy-reported counters: what a strategy counted during a run that no server log shows.

A strategy may override :meth:`strategies.base.Strategy.counters` to return ``{name: count}`` (e.g. the
header waits :class:`strategies.adaptive_headers.HeaderPacer` cut to its cap, ``capped_hints``). The
runner reads them once the run has ended (:func:`collect`), ``results.json`` keeps them per run
(``runs[i].counters``), and the report lists the non-zero ones (:func:`report_lines`)::

    >>> from strategies.base import Quota, Strategy
    >>> class Counting(Strategy):
    ...     name = "counting"
    ...     def counters(self) -> dict[str, int]:
    ...         return {"capped_hints": 2}
    >>> collect(Counting(Quota(())))
    ({'capped_hints': 2}, None)
    >>> report_lines([{"strategy": "counting", "repeat": 0, "counters": {"capped_hints": 2}}])
    ['`counting` repeat 0: capped_hints 2']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strategies.base import Strategy

__all__ = ["check", "collect", "report_lines"]


def _valid(counters: object) -> str | None:
    """Why ``counters`` is not a mapping of names to non-negative integers, or ``None``."""
    if not isinstance(counters, Mapping):
        return f"not a mapping: {type(counters).__name__}"
    for k, v in counters.items():
        if not isinstance(k, str) or not k:
            return f"a counter name must be a non-empty string, got {k!r}"
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            return f"counter {k!r} must be an integer >= 0, got {v!r}"
    return None


def collect(strategy: Strategy | None) -> tuple[dict[str, int], str | None]:
    """The strategy's counters, checked; on a bad value or an exception, none and a note saying why
    (a strategy's bug in its counters is a finding, not a reason to lose the run)."""
    if strategy is None:
        return {}, None
    try:
        counters = strategy.counters()
    except Exception as e:  # a user's strategy may raise anything
        return {}, f"counters withheld: counters() raised {type(e).__name__}: {e}"
    why = _valid(counters)
    if why is not None:
        return {}, f"counters withheld: {why}"
    return {k: int(v) for k, v in sorted(counters.items())}, None


def check(run: Mapping[str, Any], where: str) -> str | None:
    """Why a loaded run entry's ``counters`` is malformed, naming ``where``; ``None`` if absent or fine."""
    if "counters" not in run:
        return None
    why = _valid(run["counters"])
    return None if why is None else f"{where}.counters: {why}"


def report_lines(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per run with a non-zero counter: ``"`name` repeat k: a 1, b 2"`` (names in order)."""
    out = []
    for r in runs:
        c = r.get("counters")
        if isinstance(c, Mapping) and (shown := [f"{k} {v}" for k, v in sorted(c.items()) if v]):
            out.append(f"`{r['strategy']}` repeat {r['repeat']}: {', '.join(shown)}")
    return out
