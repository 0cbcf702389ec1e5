"""The report's "client side" section: per strategy, the loop's lag, what the client sent per window beside
what the server counted, where the run started in the clock-aligned windows, and jobs that gave up.

Drawn from ``results.json`` runs (the metrics of docs/metrics.md, "Client side, loop and workload"); shown
only when it says something: a loop lag was measured, a job gave up, or a client-side peak differs from the
server's. Per strategy over its repeats: lag p50 the median, p99 and max the worst; peaks the largest;
dropped and cancelled summed; phases as recorded (first tier).

>>> runs = [{"strategy": "a", "metrics": {"loop_lag_p50_ms": 1.0, "loop_lag_p99_ms": 4.0, "loop_lag_max_ms": 9.0,
...          "client_peak_window_count": [20], "peak_window_count": [39], "window_phase_s": [0.75],
...          "jobs_dropped": 0, "jobs_cancelled": 2}}]
>>> print("\\n".join(section(runs)[5:]))
| strategy | loop lag p50 / p99 / max ms | peak window client / server | start phase s | dropped | cancelled |
|---|---|---|---|---|---|
| `a` | 1.0 / 4.0 / 9.0 | 20 / 39 | 0.750 | 0 | 2 |
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from bench import sections

__all__ = ["HEADERS", "html_section", "section", "table"]


def _num(values: list[float], how: str) -> str:
    if not values:
        return "–"
    v = statistics.median(values) if how == "median" else max(values)
    return f"{v:.1f}"


def _peaks(values: list[list[int]]) -> list[int]:
    return [max(col) for col in zip(*values, strict=False)] if values else []


HEADERS = ("strategy", "loop lag p50 / p99 / max ms", "peak window client / server", "start phase s", "dropped",
           "cancelled")
INTRO = ("Per strategy over its repeats (docs/metrics.md, \"Client side, loop and workload\"): the event loop's "
         "lag (a 10 ms ticker's lateness; p50 median, p99 and max worst), the most requests the client *sent* in "
         "any window beside the most the server *counted* (per tier), where each run started in the first tier's "
         "clock-aligned windows, and jobs that gave up while waiting.")


def table(runs: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """The section's rows (cells as text, see :data:`HEADERS`), or none when there is nothing to show."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        by.setdefault(str(r.get("strategy")), []).append(r.get("metrics") or {})
    rows: list[tuple[str, ...]] = []
    telling = False
    for name, ms in by.items():
        def col(key: str, ms: list[Mapping[str, Any]] = ms) -> list[Any]:
            return [m[key] for m in ms if m.get(key) is not None]

        client, server = _peaks(col("client_peak_window_count")), _peaks(col("peak_window_count"))
        dropped, cancelled = sum(col("jobs_dropped")), sum(col("jobs_cancelled"))
        lag = col("loop_lag_max_ms")
        telling |= bool(lag) or dropped > 0 or cancelled > 0 or (bool(client) and client != server)
        phases = ", ".join(f"{p[0]:.3f}" for p in col("window_phase_s") if p) or "–"
        rows.append((name, f"{_num(col('loop_lag_p50_ms'), 'median')} / {_num(col('loop_lag_p99_ms'), 'max')} / "
                           f"{_num(lag, 'max')}",
                     f"{'/'.join(map(str, client)) or '–'} / {'/'.join(map(str, server)) or '–'}", phases,
                     str(dropped), str(cancelled)))
    return rows if telling else []


def section(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown lines of the section (a blank line first), or none when there is nothing to show."""
    rows = [(f"`{r[0]}`", *r[1:]) for r in table(runs)]
    return sections.markdown("Client side", INTRO, HEADERS, rows)


def html_section(runs: Sequence[Mapping[str, Any]]) -> str:
    """The same section as HTML ("" when there is nothing to show).

    >>> html_section([])
    ''
    """
    return sections.html_section("Client side", INTRO, HEADERS, table(runs))
