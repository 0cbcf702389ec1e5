"""Sweeps in a finished run: which rows configure one strategy with different values of one parameter,
and the metrics against that parameter (drawn by :func:`bench.plots.param_sweep`).

The rows of a sweep are named ``strategy[name=value,...]`` (:func:`strategies.base.configured`);
``results.json`` ``meta.params`` says which strategy and values each one is (:func:`bench.params.sweep_meta`),
so nothing here parses a row's name. A sweep is a (strategy, parameter) with at least two values among
its rows; rows that also differ in other parameters become separate lines (``others``). Each point is the
median over the row's repeats (of the runs that define the metric; efficiency is null for a run that did
not complete every job, and such a point is left out, with the count of withheld runs kept).

>>> doc = {"meta": {"params": {
...     "p[b=0]": {"strategy": "p", "values": {"b": 0}}, "p[b=10]": {"strategy": "p", "values": {"b": 10}}}},
...     "runs": [{"strategy": "p[b=0]", "metrics": {"throttled": 12, "efficiency": None}},
...              {"strategy": "p[b=10]", "metrics": {"throttled": 0, "efficiency": 0.9}}]}
>>> (s,) = sweeps(doc)
>>> s.strategy, s.param, s.lines[""]
('p', 'b', [(0.0, 12.0, None), (10.0, 0.0, 0.9)])
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Sweep", "sweeps", "write_charts"]


@dataclass(frozen=True)
class Sweep:
    """One parameter of one strategy, swept: per line (the other parameters' values, ``""`` for none),
    points ``(value, median 429s, median efficiency or None)`` in ascending value order."""

    strategy: str
    param: str
    lines: dict[str, list[tuple[float, float, float | None]]] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{self.strategy}-{self.param}")
        return f"charts/sweep-{safe}.png"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def sweeps(doc: Mapping[str, Any]) -> list[Sweep]:
    """Every sweep of ``doc`` (a results.json document) over a numeric parameter, in row order."""
    configs: Mapping[str, Any] = doc.get("meta", {}).get("params") or {}
    per_row: dict[str, list[Mapping[str, Any]]] = {}
    for run in doc.get("runs", []):
        if run.get("strategy") in configs:
            per_row.setdefault(run["strategy"], []).append(run.get("metrics") or {})
    by_strategy: dict[str, list[tuple[dict[str, Any], list[Mapping[str, Any]]]]] = {}
    for row, conf in configs.items():
        if row in per_row:
            by_strategy.setdefault(conf["strategy"], []).append((dict(conf["values"]), per_row[row]))
    out: list[Sweep] = []
    for strategy, rows in by_strategy.items():
        names = list(dict.fromkeys(k for values, _ in rows for k in values))
        for param in names:
            xs = {v[param] for v, _ in rows if param in v}
            if len(xs) < 2 or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs):
                continue
            sweep = Sweep(strategy, param)
            for values, ms in rows:
                if param not in values:
                    continue
                others = ",".join(f"{k}={v}" for k, v in values.items() if k != param)
                throttled = _median([float(m["throttled"]) for m in ms if m.get("throttled") is not None])
                eff = _median([float(m["efficiency"]) for m in ms if m.get("efficiency") is not None])
                if throttled is not None:
                    sweep.lines.setdefault(others, []).append((float(values[param]), throttled, eff))
            for pts in sweep.lines.values():
                pts.sort()
            out.append(sweep)
    return out


def write_charts(run_dir: Path, doc: Mapping[str, Any]) -> list[str]:
    """One chart per sweep in ``run_dir/charts`` (relative paths written); none for a run without sweeps."""
    from bench import plots

    written = []
    name = doc.get("meta", {}).get("resolved", {}).get("name", "?")
    for s in sweeps(doc):
        plots.param_sweep(run_dir / s.filename, s.strategy, s.param, s.lines,
                          f"{s.strategy}: 429s and efficiency against {s.param} — scenario {name!r}\n"
                          "median over repeats; efficiency is withheld (hollow marker at 0) for a run that "
                          "did not complete every job")
        written.append(s.filename)
    return written
