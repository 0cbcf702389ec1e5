"""The ranked table as the terminal shows it: failed and over-limit rows marked (in colour on a terminal),
and why each failed run failed, under the table — so nobody has to open report.md to learn a strategy crashed.

>>> rows = [{"status": "ok", "burst_ratio": 1.0}, {"status": "ok", "burst_ratio": 2.0},
...         {"status": "failed", "burst_ratio": None}]
>>> print(annotate("head\\n----\\na\\nb\\nc", rows, color=False))
head
----
a
b  ‹ over the limit
c  ‹ failed
>>> failures([{"strategy": "x", "repeat": 0, "status": "timeout", "error": "did not finish within 30 s"}])
['failed runs:', '  x repeat 0: timeout — did not finish within 30 s']
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

RED, YELLOW, RESET = "\033[31m", "\033[33m", "\033[0m"


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never with ``NO_COLOR`` set (https://no-color.org) or ``TERM=dumb``."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def mark(row: Mapping[str, Any]) -> str | None:
    """Why a row stands out: its status when not ``ok`` (``failed``, ``timeout``, ``interrupted``, or a mix
    over repeats), ``over the limit`` when its busiest window held more than the limit, else ``None``."""
    if row.get("status") != "ok":
        return str(row.get("status"))
    if (row.get("neighbour_rejected") or 0) > 0:
        return "neighbour rejected"  # the run took the shared key's quota from the scenario's neighbour
    burst = row.get("burst_ratio")
    return "over the limit" if isinstance(burst, int | float) and burst > 1.0 else None


def annotate(table: str, rows: Sequence[Mapping[str, Any]], *, color: bool) -> str:
    """``table`` (bench.report.text_table: a header, a rule, then one line per row in ``rows``' order) with
    the marked rows in colour (red: not ok, yellow: over the limit), or, without colour, a ``‹ reason`` after them."""
    lines = table.split("\n")
    for i, row in enumerate(rows, start=2):
        why = mark(row)
        if why is None or i >= len(lines):
            continue
        if color:
            if why != "skipped":  # a skipped row is no failure: not red (its cells say "skipped")
                lines[i] = (YELLOW if why == "over the limit" else RED) + lines[i] + RESET
        else:
            lines[i] += f"  ‹ {why}"
    return "\n".join(lines)


def failures(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per run that did not finish ``ok``, with its reason (``results.json``'s ``error``); skipped
    runs (never started: the machine lacks what the strategy needs) apart, under their own heading.

    >>> failures([{"strategy": "r", "repeat": 0, "status": "skipped", "error": "needs redis"}])
    ['skipped (no run):', '  r repeat 0: needs redis']
    """
    def line(r: Mapping[str, Any], status: bool) -> str:
        return (f"  {r['strategy']} repeat {r['repeat']}: " + (f"{r['status']} — " if status else "")
                + (r.get("error") or "no reason recorded"))

    bad = [line(r, True) for r in runs if r.get("status") not in ("ok", "skipped")]
    skipped = [line(r, False) for r in runs if r.get("status") == "skipped"]
    return (["failed runs:", *bad] if bad else []) + (["skipped (no run):", *skipped] if skipped else [])


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1.

    >>> plural(1, "strategy"), plural(2, "strategy"), plural(3, "repeat")
    ('1 strategy', '2 strategies', '3 repeats')
    """
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"
