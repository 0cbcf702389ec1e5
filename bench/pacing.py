"""Paced accuracy of the harness: did every run achieve its scenario's release rate? (``make bench-paced``)

    python -m bench.pacing RUN_DIR_OR_PARENT... [--min-ratio 0.99]

Reads the ``results.json`` of each run directory given (or of every run directory directly under a
parent), keeps the open-loop ("rate") scenarios, and prints one Markdown row per target rate: the
achieved rate of each repeat (``throughput_rps``: successes ÷ first send → last response), the worst
achieved ÷ target, and the harness's own lag (release and send p50/p99, transit p99; docs/metrics.md).
Exit 0 when every repeat of every rate achieved at least ``--min-ratio`` × its target and finished
``ok``; 1 otherwise (each shortfall named on stderr); 2 for bad input.

>>> check_run(1000.0, {"status": "ok", "metrics": {"throughput_rps": 989.0}}, 0.99)
'achieved 989.0/s < 99% of 1000/s'
>>> check_run(1000.0, {"status": "ok", "metrics": {"throughput_rps": 990.0}}, 0.99) is None
True
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import results

__all__ = ["RateRow", "check_run", "collect", "main", "markdown"]


def check_run(target: float, run: dict[str, Any], min_ratio: float) -> str | None:
    """Why one run misses its target, or ``None`` when it meets it."""
    if run.get("status") != "ok":
        return f"status {run.get('status')!r}"
    achieved = run["metrics"].get("throughput_rps")
    if achieved is None or achieved < min_ratio * target:
        shown = "nothing" if achieved is None else f"{achieved:.1f}/s"
        return f"achieved {shown} < {min_ratio:.0%} of {target:g}/s"
    return None


@dataclass(frozen=True)
class RateRow:
    """Every repeat of one target rate, across the run directories given."""

    target: float
    achieved: tuple[float, ...]
    release_p50_ms: tuple[float, ...]
    release_p99_ms: tuple[float, ...]
    send_p99_ms: tuple[float, ...]
    transit_p99_ms: tuple[float, ...]
    transport: str
    failures: tuple[str, ...]
    machine: str = ""  # platform, CPUs, Python, as results.json meta recorded them

    @property
    def worst_ratio(self) -> float:
        return min(self.achieved, default=0.0) / self.target


def _lag(run: dict[str, Any], key: str, field: str) -> float | None:
    h = run.get("harness") or {}
    s = h.get(key)
    return None if not isinstance(s, dict) else float(s[field])


def _machine(meta: dict[str, Any]) -> str:
    return f"{meta.get('platform', '?')}, {meta.get('cpus', '?')} CPUs, Python {meta.get('python', '?')}"


def _run_dirs(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if (p / "results.json").exists():
            out.append(p)
        elif p.is_dir():
            out += sorted(d for d in p.iterdir() if (d / "results.json").exists())
        else:
            raise FileNotFoundError(f"{p}: not a run directory nor a directory of them")
    if not out:
        raise FileNotFoundError(f"no run directory under {', '.join(map(str, paths))}")
    return out


def collect(paths: Sequence[Path], min_ratio: float = 0.99) -> list[RateRow]:
    """One :class:`RateRow` per target rate, in rate order; run directories that are not paced are skipped."""
    by: dict[float, list[tuple[dict[str, Any], str]]] = {}
    machines: dict[float, set[str]] = {}
    for d in _run_dirs(paths):
        doc = results.load(d)
        workload = doc["meta"]["resolved"]["workload"]
        if workload.get("release") != "rate" or not workload.get("rate"):
            continue
        for run in doc["runs"]:
            by.setdefault(float(workload["rate"]), []).append((run, str(doc["meta"].get("transport"))))
            machines.setdefault(float(workload["rate"]), set()).add(_machine(doc["meta"]))
    rows = []
    for target in sorted(by):
        runs = [r for r, _ in by[target]]

        def present(key: str, field: str, runs: list[dict[str, Any]] = runs) -> tuple[float, ...]:
            return tuple(v for r in runs if (v := _lag(r, key, field)) is not None)

        failures = tuple(f"{target:g}/s repeat {r.get('repeat')}: {why}" for r in runs
                         if (why := check_run(target, r, min_ratio)) is not None)
        rows.append(RateRow(target, tuple(float(r["metrics"].get("throughput_rps") or 0.0) for r in runs),
                            present("release_lag", "p50_ms"), present("release_lag", "p99_ms"),
                            present("send_lag", "p99_ms"), present("transit", "p99_ms"),
                            "/".join(sorted({t for _, t in by[target]})), failures,
                            "; ".join(sorted(machines[target]))))
    return rows


def _span(values: tuple[float, ...], digits: int = 2) -> str:
    """``lo–hi ms`` over the repeats (one value when they agree); ``–`` when none recorded it."""
    if not values:
        return "–"
    lo, hi = min(values), max(values)
    return (f"{lo:.{digits}f}" if lo == hi else f"{lo:.{digits}f}–{hi:.{digits}f}") + " ms"


def markdown(rows: Sequence[RateRow]) -> str:
    """The README table: achieved rate per repeat, worst ratio, the harness's lag ranges over repeats."""
    lines = ["| target | achieved rps (each repeat) | worst achieved / target | release lag p50 | release lag p99 "
             "| send lag p99 | transit p99 | transport |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.target:g}/s | {', '.join(f'{a:.1f}' for a in r.achieved)} | {r.worst_ratio:.3f} "
                     f"| {_span(r.release_p50_ms)} | {_span(r.release_p99_ms)} | {_span(r.send_p99_ms)} "
                     f"| {_span(r.transit_p99_ms)} | {r.transport} |")
    machines = sorted({r.machine for r in rows if r.machine})
    if machines:
        lines += ["", "Machine: " + "; ".join(machines)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pacing", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", type=Path, help="run directories, or directories holding them")
    ap.add_argument("--min-ratio", type=float, default=0.99, help="achieved ÷ target below this fails (0.99)")
    args = ap.parse_args(argv)
    if not 0.0 < args.min_ratio <= 1.0:
        print(f"--min-ratio: must be in (0, 1], got {args.min_ratio}", file=sys.stderr)
        return 2
    try:
        rows = collect(args.paths, args.min_ratio)
    except (FileNotFoundError, ValueError, KeyError, TypeError) as e:
        print(f"bench.pacing: {e}", file=sys.stderr)
        return 2
    if not rows:
        print("bench.pacing: no paced (release = \"rate\") runs found", file=sys.stderr)
        return 2
    print(markdown(rows))
    failures = [f for r in rows for f in r.failures]
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    if failures:
        print(f"bench.pacing: {len(failures)} run(s) below {args.min_ratio:.0%} of their target rate",
              file=sys.stderr)
        return 1
    worst = min(rows, key=lambda r: r.worst_ratio)
    print(f"\nok: every run within {args.min_ratio:.0%} of its target (worst {worst.worst_ratio:.3f} at "
          f"{worst.target:g}/s; median of all {statistics.median(a / r.target for r in rows for a in r.achieved):.3f})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
