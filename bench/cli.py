"""``python -m bench``: list strategies and scenarios, run comparisons, rebuild reports.

Exit codes: 0 success, 1 a run ended incomplete (interrupted), 2 usage or input error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import netmodel, report, results, scenarios
from bench.records import Arrival
from bench.runner import RunResult, run_one, run_virtual
from bench.scenarios import Scenario, ScenarioError
from bench.transport import RealServer, Server, ServerError
from strategies import registry
from strategies.base import Tier
from strategies.registry import UnknownStrategy


class UsageError(Exception):
    pass


def _list(args: argparse.Namespace) -> int:
    strategies = [{"name": n, "description": registry.resolve(n).description} for n in registry.names()]
    scen = [{"name": n, "description": scenarios.load(n).description} for n in scenarios.builtin_names()]
    if args.json:
        print(json.dumps({"strategies": strategies, "scenarios": scen}, indent=2))
        return 0
    w = max(len(s["name"]) for s in strategies + scen)
    print("strategies:")
    for s in strategies:
        print(f"  {s['name']:<{w}}  {s['description']}")
    print("scenarios:")
    for s in scen:
        print(f"  {s['name']:<{w}}  {s['description']}")
    return 0


def _timeline_series(run_dir: Path) -> list[tuple[str, list[Arrival]]]:
    """Per strategy, the first repeat's server arrivals (arrivals.csv: the server's own log)."""
    logs = results.read_arrivals(run_dir / "arrivals.csv")
    return [(strategy, arrivals) for (strategy, repeat), arrivals in logs.items() if repeat == 0]


def write_report(run_dir: Path) -> str:
    """(Re)build report.md, report.html and charts from what is on disk; returns the terminal table."""
    from bench import plots

    doc = results.load(run_dir)
    try:
        quota = doc["meta"]["resolved"]["server"]["quota"]
        tiers = [Tier(q["limit"], q["window_s"]) for q in quota]
        series = _timeline_series(run_dir)
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise ValueError(f"{run_dir}: not a complete ratebench run directory ({e!r})") from None
    charts = []
    if series:
        plots.timeline(run_dir / "charts" / "timeline.png", series, tiers)
        charts.append("charts/timeline.png")
    (run_dir / "report.md").write_text(report.render_markdown(doc, charts))
    (run_dir / "report.html").write_text(report.render_html(doc, charts))
    return report.text_table(report.summarise(doc["runs"], doc["meta"]))


def _execute(scenario: Scenario, names: Sequence[str], repeat: int, clock: str,
             on_result: Callable[[RunResult], None], profile: netmodel.Profile | None = None) -> None:
    classes = [registry.resolve(n) for n in names]
    if clock == "virtual":
        for cls in classes:
            for k in range(repeat):
                # A fresh loop per run, so a fresh in-process server bound to that loop's clock.
                on_result(run_virtual(cls, scenario, k, profile))
        return

    async def all_runs(server: Server) -> None:
        for cls in classes:
            for k in range(repeat):
                on_result(await run_one(cls, scenario, server, k))

    with RealServer() as real:
        asyncio.run(all_runs(real))


def _run(args: argparse.Namespace) -> int:
    try:
        scenario = scenarios.load(args.scenario)
        names = registry.parse_list(args.strategies)
    except (ScenarioError, UnknownStrategy) as e:
        raise UsageError(str(e)) from None
    if args.repeat < 1:
        raise UsageError(f"--repeat: must be >= 1, got {args.repeat}")
    profile_spec = args.profile or scenario.profile
    try:
        profile = netmodel.load_profile(profile_spec) if args.clock == "virtual" else None
    except netmodel.ProfileError as e:
        raise UsageError(f"--profile: {e}" if args.profile else f"virtual.profile: {e}") from None

    try:
        run_dir = results.new_run_dir(Path(args.out), scenario.name)
    except OSError as e:
        raise UsageError(str(e)) from None
    transport = "asgi" if args.clock == "virtual" else "http"
    writer = results.RunWriter(run_dir, results.meta(clock=args.clock, transport=transport,
                                                      scenario=scenario.source | {"name": scenario.name},
                                                      resolved=scenario.resolved(),
                                                      strategies=list(names), repeat=args.repeat)
                                  | _netmodel_meta(args.clock, profile_spec, profile, scenario, args.repeat))
    total = len(names) * args.repeat
    print(f"ratebench: scenario {scenario.name!r}, {len(names)} strategies × {args.repeat} repeat(s), "
          f"{args.clock} clock → {run_dir}", file=sys.stderr)

    def on_result(r: RunResult) -> None:
        writer.add(r)
        m = r.metrics
        print(f"  [{len(writer.runs)}/{total}] {r.strategy:<22} {r.status:<7} {r.wall_s:6.2f}s wall  "
              f"{m.succeeded}/{m.requests} ok  {m.throttled} × 429", file=sys.stderr)

    complete = False
    try:
        _execute(scenario, names, args.repeat, args.clock, on_result, profile)
        complete = True
    except KeyboardInterrupt:
        print("interrupted: keeping the partial run, marked INCOMPLETE", file=sys.stderr)
    except ServerError as e:
        print(f"ratebench: {e}", file=sys.stderr)
    if complete:
        writer.finish()
    table = write_report(run_dir) if writer.runs else "(no runs finished)"
    print(table)
    print(f"\nresults: {run_dir}/" + ("" if complete else "  (INCOMPLETE)"))
    return 0 if complete else 1


def _netmodel_meta(clock: str, spec: str, profile: netmodel.Profile | None, scenario: Scenario,
                   repeat: int) -> dict[str, object]:
    """results.json meta: which network/timer model a virtual run used, and each repeat's seed."""
    if clock != "virtual":
        return {}
    return {"netmodel": {"profile": spec if profile is None else profile.describe(),
                         "seeds": [netmodel.seed_for(scenario.name, k, scenario.seed) for k in range(repeat)]}}


def _calibrate(args: argparse.Namespace) -> int:
    from bench import calibrate

    try:
        return calibrate.main(args.out, quick=args.quick)
    except ServerError as e:
        print(f"ratebench: {e}", file=sys.stderr)
        return 1


def _report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    try:
        print(write_report(run_dir))
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(f"\nreport: {run_dir / 'report.md'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="strategies and built-in scenarios")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)
    p = sub.add_parser("run", help="run strategies against the mock server")
    p.add_argument("--scenario", default="default", help="built-in name or path to a .toml file")
    p.add_argument("--strategies", default="all", help="comma-separated names, module:Class, or 'all'")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--clock", choices=("real", "virtual"), default="real",
                   help="real: uvicorn over 127.0.0.1; virtual: in-process ASGI under virtual time")
    p.add_argument("--out", default="results", help="parent directory; each run gets a new subdirectory")
    p.add_argument("--profile", default=None, metavar="NAME|FILE|none",
                   help="virtual clock: network/timer profile (default: the scenario's, else the shipped "
                        "'default'); 'none' = schedule only, no delays or late timers")
    p.set_defaults(func=_run)
    p = sub.add_parser("calibrate", help="measure this machine's delays and timer lateness into a profile")
    p.add_argument("--out", default=None, help="profile file to write (default results/profile-<time>.json)")
    p.add_argument("--quick", action="store_true", help="a fifth of the samples (a smoke test, not a profile)")
    p.set_defaults(func=_calibrate)
    p = sub.add_parser("report", help="rebuild report.md and charts of a run directory")
    p.add_argument("run_dir")
    p.set_defaults(func=_report)
    return ap


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a SIGTERM ends the run like Ctrl-C: partial results kept, server stopped


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        return func(args)
    except UsageError as e:
        print(f"ratebench: {e}", file=sys.stderr)
        return 2
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
