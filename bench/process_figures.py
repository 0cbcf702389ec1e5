"""The per-process table of a ``--processes N`` run (bench.multiprocess), for report.md and report.html.

Each run entry of such a run holds ``processes``: one dict per client process with its own figures (its jobs,
its 429s, its latency and CPU, and the burst ratio of *its own* arrivals alone). Beside the run's total, they
show what no single process sees: each stays within the quota, together they do not.

>>> doc = {"runs": [{"strategy": "x", "repeat": 0, "metrics": {"burst_ratio": 2.0, "throttled": 3,
...        "succeeded": 8, "requests": 8}, "processes": [
...        {"process": 0, "requests": 4, "succeeded": 4, "throttled": 1, "burst_ratio": 1.0,
...         "latency_p50_ms": 12.5, "cpu_s_per_1k": 1.25},
...        {"process": 1, "requests": 4, "succeeded": 4, "throttled": 2, "burst_ratio": 1.0,
...         "latency_p50_ms": None, "cpu_s_per_1k": None}]}]}
>>> print("\\n".join(markdown(doc)[5:9]))
| strategy | repeat | process | done | 429s | burst (own) | p50 ms | CPU s/1k |
|---|---|---|---|---|---|---|---|
| x | 0 | 0 | 4/4 | 1 | 1.00 | 12 | 1.250 |
| x | 0 | 1 | 4/4 | 2 | 1.00 | – | – |
"""

from __future__ import annotations

from typing import Any

from bench import sections

__all__ = ["HEADERS", "html_section", "markdown", "rows"]

HEADERS = ("strategy", "repeat", "process", "done", "429s", "burst (own)", "p50 ms", "CPU s/1k")
INTRO = ("Each client process's own figures; \"burst (own)\" counts that process's arrivals alone. The total "
         "row is the run's, from the server's whole log.")


def _num(v: Any, fmt: str) -> str:
    return "–" if not isinstance(v, int | float) or isinstance(v, bool) else format(v, fmt)


def rows(doc: dict[str, Any]) -> list[list[str]]:
    """One row per process of every multi-process run, then the run's total."""
    out: list[list[str]] = []
    for run in doc.get("runs", []):
        procs = run.get("processes")
        if not isinstance(procs, list) or not procs:
            continue
        for p in procs:
            out.append([str(run.get("strategy")), str(run.get("repeat")), str(p.get("process")),
                        f"{p.get('succeeded')}/{p.get('requests')}", str(p.get("throttled")),
                        _num(p.get("burst_ratio"), ".2f"), _num(p.get("latency_p50_ms"), ".0f"),
                        _num(p.get("cpu_s_per_1k"), ".3f")])
        m = run.get("metrics", {})
        out.append([str(run.get("strategy")), str(run.get("repeat")), "total",
                    f"{m.get('succeeded')}/{m.get('requests')}", str(m.get("throttled")),
                    _num(m.get("burst_ratio"), ".2f"), _num(m.get("latency_p50_ms"), ".0f"),
                    _num(m.get("cpu_s_per_1k"), ".3f")])
    return out


def markdown(doc: dict[str, Any]) -> list[str]:
    """The section's lines (none for a single-process run)."""
    return sections.markdown("Per client process", INTRO, HEADERS, rows(doc))


def html_section(doc: dict[str, Any]) -> str:
    """The same section as HTML ("" for a single-process run)."""
    return sections.html_section("Per client process", INTRO, HEADERS, rows(doc))
