"""Does virtual time predict a real run? Measured per strategy and scenario: ``make bench-fidelity``.

For each scenario in :data:`SCENARIOS` and every strategy: ``repeat`` real runs (uvicorn on
127.0.0.1) and ``repeat`` virtual runs (in-process, the default profile, seeds from the repeat index),
then per strategy the median 429s and the median burst ratio in each clock. They **agree** when both
burst medians are on the same side of 1.0 (≤ 1.0: never over the limit in any window) and the 429
medians differ by at most ``max(3, 25 % of the real median)``.

Writes the table to ``docs/fidelity.md``, the verdicts to ``bench/fidelity.json`` (package data: the
report marks a strategy's virtual figures "not predictive" where they disagreed, :func:`not_predictive`),
and every run to ``results/fidelity-<time>/<scenario>-<clock>/`` (ordinary run directories)::

    python -m bench.fidelity [--strategies LIST|all] [--repeat 3] [--scenarios a,b] [--doc FILE] [--data FILE]

The steady scenario (formerly "default") is run with :data:`DEFAULT_JOBS` jobs (five windows, where the edge
behaviour shows; steady itself has 60, sized for ``make bench``), so the whole target fits in about 15 minutes
on a quiet 2-core machine, and its verdicts are those measured when the scenario was named "default".
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bench import netmodel, results, scenarios
from bench.runner import RunResult, run_one, run_virtual
from bench.scenarios import Scenario, ScenarioError
from bench.transport import RealServer, ServerError
from strategies import registry
from strategies.registry import UnknownStrategy

__all__ = ["SCENARIOS", "Verdict", "agree", "judge", "main", "not_predictive"]

SCENARIOS = ("steady", "fixed-window-aligned", "token-bucket-burst")
#: Jobs of the steady scenario in the fidelity run (60 in the scenario itself, 200 when it was "default"): 5 windows.
DEFAULT_JOBS = 100
DATA_VERSION = 1
#: Where the shipped verdicts live (package data).
DATA_FILE = "fidelity.json"


@dataclass(frozen=True)
class Verdict:
    """One strategy in one scenario: medians in each clock and whether they agree."""

    strategy: str
    real_429: float | None
    virtual_429: float | None
    real_burst: float | None
    virtual_burst: float | None
    agree: bool
    reason: str  # why not (empty when they agree)

    def to_dict(self) -> dict[str, Any]:
        return {"agree": self.agree, "reason": self.reason,
                "real": {"throttled": self.real_429, "burst_ratio": self.real_burst},
                "virtual": {"throttled": self.virtual_429, "burst_ratio": self.virtual_burst}}


def _median(xs: Sequence[float | None]) -> float | None:
    present = [x for x in xs if x is not None]
    return statistics.median(present) if present else None


def agree(real_429: float | None, virtual_429: float | None, real_burst: float | None,
          virtual_burst: float | None) -> tuple[bool, str]:
    """The fidelity rule: burst medians on the same side of 1.0, 429 medians within max(3, 25 % of real).

        >>> agree(16, 14, 1.35, 1.2)
        (True, '')
        >>> agree(0, 16, 1.0, 1.3)
        (False, 'burst 1.00 real vs 1.30 virtual (other side of 1.0); 429s 0 real vs 16 virtual (allowed ±3)')
    """
    if None in (real_429, virtual_429, real_burst, virtual_burst):
        return False, "a figure is missing (a run failed or its server log was incomplete)"
    assert real_429 is not None and virtual_429 is not None and real_burst is not None and virtual_burst is not None
    reasons = []
    if (real_burst <= 1.0) != (virtual_burst <= 1.0):
        reasons.append(f"burst {real_burst:.2f} real vs {virtual_burst:.2f} virtual (other side of 1.0)")
    allowed = max(3.0, 0.25 * real_429)
    if abs(real_429 - virtual_429) > allowed:
        reasons.append(f"429s {real_429:g} real vs {virtual_429:g} virtual (allowed ±{allowed:g})")
    return not reasons, "; ".join(reasons)


def judge(real: Mapping[str, Sequence[RunResult]], virtual: Mapping[str, Sequence[RunResult]]) -> list[Verdict]:
    """A verdict per strategy present in both."""
    out = []
    for name in real:
        if name not in virtual:
            continue
        r429 = _median([r.metrics.throttled for r in real[name]])
        v429 = _median([r.metrics.throttled for r in virtual[name]])
        rb = _median([r.metrics.burst_ratio for r in real[name]])
        vb = _median([r.metrics.burst_ratio for r in virtual[name]])
        ok, why = agree(r429, v429, rb, vb)
        out.append(Verdict(name, r429, v429, rb, vb, ok, why))
    return out


def _writer(parent: Path, scenario: Scenario, clock: str, names: Sequence[str], repeat: int,
            extra: dict[str, Any]) -> results.RunWriter:
    run_dir = results.new_run_dir(parent, f"{scenario.name}-{clock}")
    meta = results.meta(clock=clock, transport="asgi" if clock == "virtual" else "http",
                        scenario=scenario.source | {"name": scenario.name}, resolved=scenario.resolved(),
                        strategies=list(names), repeat=repeat) | extra
    return results.RunWriter(run_dir, meta)


def _measure(scenario: Scenario, names: Sequence[str], repeat: int, profile: netmodel.Profile | None,
             parent: Path, log: Callable[[str], None]) -> list[Verdict]:
    classes = [registry.resolve(n) for n in names]
    real: dict[str, list[RunResult]] = {n: [] for n in names}
    virtual: dict[str, list[RunResult]] = {n: [] for n in names}

    w = _writer(parent, scenario, "real", names, repeat, {})

    async def all_real(server: RealServer) -> None:
        # Repeats outermost: a burst of load on the machine spreads over strategies, not onto one.
        for k in range(repeat):
            for cls in classes:
                r = await run_one(cls, scenario, server, k)
                real[cls.name].append(r)
                w.add(r)
                log(f"  real    {scenario.name:<22} {cls.name:<28} #{k}  {r.metrics.throttled:>4} × 429  "
                    f"burst {r.metrics.burst_ratio}  {r.wall_s:5.2f}s")

    with RealServer() as server:
        asyncio.run(all_real(server))
    w.finish()

    seeds = [netmodel.seed_for(scenario.name, k, scenario.seed) for k in range(repeat)]
    w = _writer(parent, scenario, "virtual", names, repeat,
                {"netmodel": {"profile": profile.describe() if profile else netmodel.NONE, "seeds": seeds}})
    for cls in classes:
        for k in range(repeat):
            r = run_virtual(cls, scenario, k, profile)
            virtual[cls.name].append(r)
            w.add(r)
    w.finish()
    return judge(real, virtual)


def fidelity_scenario(name: str) -> Scenario:
    """The scenario as the fidelity run uses it (steady with :data:`DEFAULT_JOBS` jobs)."""
    sc = scenarios.load(name)
    if sc.name == "steady" and sc.workload.jobs != DEFAULT_JOBS:
        sc = scenarios.from_dict({**sc.source, "workload": {**sc.source["workload"], "jobs": DEFAULT_JOBS}},
                                 sc.name)
    return sc


def _fmt(v: float | None, digits: int) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def render(verdicts: Mapping[str, Sequence[Verdict]], meta: Mapping[str, Any]) -> str:
    """docs/fidelity.md."""
    lines = [
        "# Fidelity: does virtual time predict a real run?",
        "",
        "Made by `make bench-fidelity` (`python -m bench.fidelity`); do not edit by hand. Per strategy and scenario,",
        f"{meta['repeat']} real run(s) (uvicorn on 127.0.0.1) and {meta['repeat']} virtual run(s) (in-process, profile "
        f"`{meta['profile']}`, seeds from the repeat index); the medians of 429s and of the burst ratio in each clock.",
        "**Agree** = burst medians on the same side of 1.0 and 429 medians within max(3, 25 % of the real median).",
        f"The steady scenario runs with {DEFAULT_JOBS} jobs (its first five windows) to keep the target under 15 "
        "minutes.",
        "Where a strategy does not agree, `bench report` marks its virtual figures *not predictive* "
        "(from `bench/fidelity.json`).",
        "",
        f"- created {meta['created_utc']}, {meta['wall_s']:.0f} s wall; python {meta['python']} on "
        f"{meta['platform']}; load average at start {meta['load_avg_1m']}",
        f"- profile `{meta['profile']}` (sha256 {str(meta['profile_sha256'])[:12]}…), made "
        f"{meta['profile_created_utc']}",
        f"- agree: {meta['agreeing']} of {meta['total']}",
        "",
    ]
    for scenario, vs in verdicts.items():
        lines += [f"## {scenario}", "", "| strategy | 429s real | 429s virtual | burst real | burst virtual | agree |",
                  "|---|---|---|---|---|---|"]
        for v in vs:
            lines.append(f"| {v.strategy} | {_fmt(v.real_429, 1)} | {_fmt(v.virtual_429, 1)} | "
                         f"{_fmt(v.real_burst, 2)} | {_fmt(v.virtual_burst, 2)} | "
                         f"{'yes' if v.agree else '**no**: ' + v.reason} |")
        lines.append("")
    return "\n".join(lines)


def _shipped() -> Path:
    return Path(str(resources.files("bench") / DATA_FILE))


def load_verdicts(path: Path | None = None) -> dict[str, Any]:
    """The verdicts document (``{}`` when none was written yet or it cannot be read)."""
    p = path or _shipped()
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) and doc.get("version") == DATA_VERSION else {}


def not_predictive(scenario: str, doc: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Strategies whose virtual figures did not agree with real runs, with the reason.

    For a scenario the fidelity run measured, its own verdicts; for any other scenario, every strategy
    that disagreed in some measured scenario (its edge behaviour is not one the model reproduces).
    """
    doc = load_verdicts() if doc is None else doc
    measured = doc.get("scenarios")
    if not isinstance(measured, Mapping):
        return {}
    chosen = [scenario] if scenario in measured else list(measured)
    out: dict[str, str] = {}
    for name in chosen:
        for strategy, v in (measured.get(name) or {}).items():
            if isinstance(v, Mapping) and not v.get("agree", True) and strategy not in out:
                where = "" if name == scenario else f" in scenario {name!r}"
                out[strategy] = f"disagreed with real runs{where}: {v.get('reason', '')}"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fidelity", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strategies", default="all")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", default=netmodel.DEFAULT, help="profile for the virtual runs (name or file)")
    ap.add_argument("--doc", default="docs/fidelity.md", help="the table (Markdown)")
    ap.add_argument("--data", default=None, help=f"the verdicts (JSON; default: bench/{DATA_FILE}, shipped)")
    ap.add_argument("--out", default="results", help="parent of the fidelity-<time>/ run directories")
    args = ap.parse_args(argv)
    try:
        names = registry.parse_list(args.strategies)
        # Virtual time cannot run a strategy whose state is in Redis (bench.redis_server): nothing to compare.
        if no := [n for n in names if "redis" in registry.resolve(n).requires]:
            print(f"fidelity: not compared (virtual time cannot use a redis-server): {', '.join(no)}", file=sys.stderr)
            names = [n for n in names if n not in no]
        chosen = [fidelity_scenario(s) for s in args.scenarios.split(",") if s]
        profile = netmodel.load_profile(args.profile)
        if args.repeat < 1:
            raise ValueError(f"--repeat: must be >= 1, got {args.repeat}")
    except (ScenarioError, UnknownStrategy, netmodel.ProfileError, ValueError) as e:
        print(f"fidelity: {e}", file=sys.stderr)
        return 2
    parent = Path(args.out) / f"fidelity-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    load = _loadavg()
    t0 = time.monotonic()
    verdicts: dict[str, list[Verdict]] = {}

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        for sc in chosen:
            log(f"fidelity: {sc.name}: {len(names)} strategies × {args.repeat} real, then virtual")
            verdicts[sc.name] = _measure(sc, names, args.repeat, profile, parent, log)
    except (ServerError, KeyboardInterrupt) as e:
        print(f"fidelity: stopped ({e!r}); nothing written to {args.doc}", file=sys.stderr)
        return 1
    wall = time.monotonic() - t0
    all_v = [v for vs in verdicts.values() for v in vs]
    meta = {"created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "wall_s": wall,
            "repeat": args.repeat, "profile": profile.name if profile else netmodel.NONE,
            "profile_sha256": profile.sha256 if profile else None,
            "profile_created_utc": profile.source.get("created_utc") if profile else None,
            "python": sys.version.split()[0], "platform": platform.platform(),
            "load_avg_1m": load, "agreeing": sum(v.agree for v in all_v), "total": len(all_v),
            "runs": str(parent)}
    Path(args.doc).parent.mkdir(parents=True, exist_ok=True)
    Path(args.doc).write_text(render(verdicts, meta) + "\n")
    data = {"version": DATA_VERSION, "meta": meta,
            "scenarios": {s: {v.strategy: v.to_dict() for v in vs} for s, vs in verdicts.items()}}
    data_path = Path(args.data) if args.data else Path(__file__).resolve().parent / DATA_FILE
    data_path.write_text(json.dumps(data, indent=1) + "\n")
    print(render(verdicts, meta))
    print(f"\n{meta['agreeing']} of {meta['total']} agree; {wall:.0f} s. Table: {args.doc}; verdicts: {data_path}; "
          f"runs: {parent}/")
    return 0


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


if __name__ == "__main__":
    sys.exit(main())
