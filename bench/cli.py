"""``python -m bench``: list strategies and scenarios, run comparisons, rebuild reports.

Exit codes: 0 success, 1 interrupted (a signal, a dead server, a full disk: what was measured is
kept, marked INCOMPLETE; a second SIGINT/SIGTERM exits 1 at once), 2 usage or input error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from bench import ceiling, multiprocess, netmodel, redis_server, report, results, scenarios, watchdog
from bench.runner import RunResult, run_one, virtual_setup
from bench.scenarios import Scenario, ScenarioError
from bench.transport import DEFAULT_TRANSPORT, TRANSPORTS, RealServer, ServerError
from mock_server import process
from strategies import registry
from strategies.base import Tier
from strategies.registry import UnknownStrategy


class UsageError(Exception):
    pass


def _list(args: argparse.Namespace) -> int:
    strategies = [{"name": n, "description": registry.resolve(n).description} for n in registry.names()]
    scen = [{"name": n, "kind": (sc := scenarios.load(n)).kind, "description": sc.description}
            for n in scenarios.builtin_names()]
    if args.json:
        print(json.dumps({"strategies": strategies, "scenarios": scen}, indent=2))
        return 0
    w = max(len(s["name"]) for s in strategies + scen)
    print("strategies:")
    for s in strategies:
        print(f"  {s['name']:<{w}}  {s['description']}")
    print("scenarios:")
    for s in scen:
        kind = {"harness": " [harness]", multiprocess.MULTI_PROCESS_KIND: " [--processes N]"}.get(s["kind"], "")
        print(f"  {s['name']:<{w}}  {s['description']}{kind}")
    return 0


def _arrivals_intact(run_dir: Path, doc: dict[str, Any]) -> bool:
    """Whether arrivals.csv holds every arrival results.json counts. A truncated or edited log is not
    drawn: a chart of part of a log looks like a finding."""
    path = run_dir / "arrivals.csv"
    try:
        results.check_arrivals(doc, results.read_arrivals(path), path)
    except (results.BadRunFile, OSError) as e:
        print(f"ratebench: {e}: charts withheld", file=sys.stderr)
        return False
    return True


def write_report(run_dir: Path) -> str:
    """(Re)build report.md, report.html and charts from what is on disk; returns the terminal table."""
    from bench import charts

    doc = results.load(run_dir)
    try:
        quota = doc["meta"]["resolved"]["server"]["quota"]
        tiers = [Tier(q["limit"], q["window_s"]) for q in quota]
        if any(not (isinstance(t.limit, int) and isinstance(t.window_s, int | float) and t.window_s > 0)
               for t in tiers):
            raise ValueError("meta.resolved.server.quota: limits and windows must be positive numbers")
        rows = report.summarise(doc["runs"], doc["meta"])
        notes = report.harness_notes(doc)
        flagged = [report.LEGEND, *notes] if notes or any(r.get("harness") for r in rows) else []
        table = "\n".join([report.text_table(rows), *flagged])
        written = charts.write_all(run_dir, doc) if _arrivals_intact(run_dir, doc) else []
        markdown, page = report.render_markdown(doc, written), report.render_html(doc, written, base=run_dir)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{run_dir}: results.json is not a usable ratebench run ({e!r}); hand-edited?") from None
    results.write_atomic(run_dir / "report.md", markdown)
    results.write_atomic(run_dir / "report.html", page)
    return table


def _execute(scenario: Scenario, names: Sequence[str], repeat: int, clock: str,
             on_result: Callable[[RunResult], None], transport: str = DEFAULT_TRANSPORT,
             on_ceiling: Callable[[ceiling.Calibration], None] | None = None,
             profile: netmodel.Profile | None = None, processes: int = 1) -> None:
    """Every run under the watchdog (bench.watchdog): a strategy that hangs, blocks or exits is a row.

    Virtual runs draw their network delays and timer lateness from ``profile`` (``None``: schedule only),
    seeded per scenario and repeat (:func:`bench.netmodel.seed_for`). A strategy that needs Redis gets a
    private redis-server, or a ``skipped`` row saying why not (bench.redis_server). ``processes`` > 1 splits
    each run across that many client processes (bench.multiprocess; real clock only)."""
    classes = [registry.resolve(n) for n in names]
    prepare = redis_server.Preparer(virtual=clock == "virtual")  # starts nothing unless a strategy needs Redis
    if clock == "virtual":
        for cls in classes:
            for k in range(repeat):
                if (why := prepare(cls)) is not None:
                    on_result(redis_server.skipped(cls, scenario, k, why))
                    continue
                # A fresh loop per run, so a fresh in-process server bound to that loop's clock.
                server, loop = virtual_setup(scenario, k, profile)
                on_result(watchdog.run(run_one, cls, scenario, server, k, virtual=True, loop_factory=loop).result)
        return

    real = RealServer(transport=transport).__enter__()
    try:
        if on_ceiling is not None:  # the harness's own ceiling first (< 1 s), to warn about what it cannot keep
            on_ceiling(asyncio.run(ceiling.measure(real, scenario)))
        for cls in classes:
            for k in range(repeat):
                if (why := prepare(cls)) is not None:
                    on_result(redis_server.skipped(cls, scenario, k, why))
                    continue
                if processes > 1:  # worker processes, watched by multiprocess itself (they cannot block us)
                    on_result(multiprocess.run(cls, scenario, real, k, processes))
                    continue
                out = watchdog.run(run_one, cls, scenario, real, k, virtual=False)
                on_result(out.result)
                if out.abandoned:
                    # Its blocked thread may wake up and send again: the next run gets a server it cannot reach.
                    real.__exit__(None, None, None)
                    real = RealServer(transport=transport).__enter__()
    finally:
        real.__exit__(None, None, None)
        prepare.close()  # the redis-server, if one was started: stopped by its PID


def _run(args: argparse.Namespace) -> int:
    try:
        scenario = scenarios.load(args.scenario)
        names = registry.parse_list(args.strategies)
    except (ScenarioError, UnknownStrategy) as e:
        raise UsageError(str(e)) from None
    if args.repeat < 1:
        raise UsageError(f"--repeat: must be >= 1, got {args.repeat}")
    if (why := multiprocess.usage_error(args.processes, args.clock, scenario.kind)) is not None:
        raise UsageError(why)
    profile_spec = args.profile or scenario.profile
    try:
        profile = netmodel.load_profile(profile_spec) if args.clock == "virtual" else None
    except netmodel.ProfileError as e:
        raise UsageError(f"--profile: {e}" if args.profile else f"virtual.profile: {e}") from None

    try:
        run_dir = results.new_run_dir(Path(args.out), scenario.name)
    except OSError as e:
        raise UsageError(str(e)) from None
    # "http+aiohttp": the server is reached over real sockets, through the harness client named after the "+".
    transport = "asgi" if args.clock == "virtual" else f"http+{args.transport}"
    try:
        writer = _writer(run_dir, args, scenario, names, transport, profile_spec, profile)
    except results.WriteError as e:
        raise UsageError(str(e)) from None
    return _run_all(args, scenario, names, run_dir, writer, profile)


def _writer(run_dir: Path, args: argparse.Namespace, scenario: Scenario, names: Sequence[str],
            transport: str, profile_spec: str, profile: netmodel.Profile | None) -> results.RunWriter:
    return results.RunWriter(run_dir, results.meta(clock=args.clock, transport=transport,
                                                      scenario=scenario.source | {"name": scenario.name},
                                                      resolved=scenario.resolved(),
                                                      strategies=list(names), repeat=args.repeat)
                             | ({"processes": args.processes} if args.processes > 1 else {})
                             | _netmodel_meta(args.clock, profile_spec, profile, scenario, args.repeat))


def _run_all(args: argparse.Namespace, scenario: Scenario, names: Sequence[str], run_dir: Path,
             writer: results.RunWriter, profile: netmodel.Profile | None) -> int:
    total = len(names) * args.repeat
    print(f"ratebench: scenario {scenario.name!r}, {len(names)} strategies × {args.repeat} repeat(s), "
          f"{args.clock} clock → {run_dir}", file=sys.stderr)

    def on_result(r: RunResult) -> None:
        writer.add(r)
        m = r.metrics
        print(f"  [{len(writer.runs)}/{total}] {r.strategy:<22} {r.status:<7} {r.wall_s:6.2f}s wall  "
              f"{m.succeeded}/{m.requests} ok  {m.throttled} × 429"
              + (f"  DISTURBED: {r.disturbed}" if r.disturbed else ""), file=sys.stderr)
        for p in r.processes:  # a --processes N run: what each client process did, beside the total
            print(f"      process {p['process']}: {p['succeeded']}/{p['requests']} ok  {p['throttled']} × 429  "
                  f"burst of its own arrivals {p['burst_ratio']}", file=sys.stderr)

    def on_ceiling(c: ceiling.Calibration) -> None:
        writer.meta["ceiling"] = c.to_dict()
        print(f"  harness ceiling {c.ceiling_rps or 0:.0f}/s ({c.requests} requests, {c.concurrency} in flight)"
              + (f" — WARNING: {c.warning}" if c.warning else ""), file=sys.stderr)

    complete = False
    try:
        _execute(scenario, names, args.repeat, args.clock, on_result, args.transport, on_ceiling, profile,
                 args.processes)
        complete = True
    except watchdog.Interrupted as e:
        print("interrupted: keeping what was measured (the run in progress as partial), marked INCOMPLETE",
              file=sys.stderr)
        try:
            on_result(e.partial)
        except results.WriteError as w:
            print(f"ratebench: {w}: the partial run is not saved", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: keeping the partial run, marked INCOMPLETE", file=sys.stderr)
    except ServerError as e:
        print(f"ratebench: {e}", file=sys.stderr)
    except results.WriteError as e:
        print(f"ratebench: {e}: stopped; {run_dir}/results.json holds the runs written before", file=sys.stderr)
    try:
        if complete:
            writer.finish()
    except OSError as e:  # a full disk: the runs are safe in results.json, which only lacks "complete"
        complete = False
        print(f"ratebench: cannot mark the run complete: {e}", file=sys.stderr)
    # ``complete`` in results.json means every measurement is on disk; the report is derived from it
    # and can be rebuilt, but a report that could not be written is an error of this command, not hidden.
    try:
        table = write_report(run_dir) if writer.runs else "(no runs finished)"
    except Exception as e:
        print(f"ratebench: the report was not written ({e}); the measurements are in {run_dir}/results.json — "
              f"retry with: python -m bench report {run_dir}", file=sys.stderr)
        table = report.text_table(report.summarise(writer.runs)) if writer.runs else "(no runs written)"
        print(table)
        return 1
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
    except OSError as e:
        raise UsageError(f"cannot write the report in {run_dir}: {e}") from None
    print(f"\nreport: {run_dir / 'report.md'}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from bench import gate

    baseline = Path(args.baseline) if args.baseline else None
    return gate.main(Path(args.run_dir), Path(args.thresholds), baseline, as_json=args.json)


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
    p.add_argument("--transport", choices=tuple(TRANSPORTS), default=DEFAULT_TRANSPORT,
                   help=f"the harness's client in real mode (default {DEFAULT_TRANSPORT}; docs/transports.md)")
    p.add_argument("--profile", default=None, metavar="NAME|FILE|none",
                   help="virtual clock: network/timer profile (default: the scenario's, else the shipped "
                        "'default'); 'none' = schedule only, no delays or late timers")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="split each run's jobs across N client processes on one API key (real clock; "
                        "docs/scaling.md)")
    p.set_defaults(func=_run)
    p = sub.add_parser("calibrate", help="measure this machine's delays and timer lateness into a profile")
    p.add_argument("--out", default=None, help="profile file to write (default results/profile-<time>.json)")
    p.add_argument("--quick", action="store_true", help="a fifth of the samples (a smoke test, not a profile)")
    p.set_defaults(func=_calibrate)
    p = sub.add_parser("report", help="rebuild report.md and charts of a run directory")
    p.add_argument("run_dir")
    p.set_defaults(func=_report)
    p = sub.add_parser("check", help="the gate: judge a run against thresholds (exit 0 hold, 1 breach, 2 bad input)")
    p.add_argument("run_dir")
    p.add_argument("--thresholds", required=True, help="TOML file of rules (docs/ci.md)")
    p.add_argument("--baseline", help="an earlier run directory of the same scenario, for the baseline rules")
    p.add_argument("--json", action="store_true", help="machine-readable verdict on stdout")
    p.set_defaults(func=_check)
    return ap


@contextmanager
def _signals() -> Iterator[None]:
    """The first SIGINT/SIGTERM ends the benchmark like Ctrl-C (what was measured is saved, the server
    stopped); a second one exits 1 at once, without a traceback (results.json then holds every run
    finished before the first signal)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen = 0

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            raise KeyboardInterrupt
        os.write(2, b"\nratebench: second signal: exiting now (exit 1); the run directory stays INCOMPLETE\n")
        process.kill_children()
        redis_server.kill_children()
        os._exit(1)

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with _signals():
            return func(args)
    except UsageError as e:
        print(f"ratebench: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a signal outside a run (start-up, report): nothing measured to keep
        print("ratebench: interrupted", file=sys.stderr)
        return 1


def console() -> None:
    """The ``ratebench`` script: :func:`main`, then exit without finalising strategies the watchdog stopped
    (collecting a coroutine that swallows everything would run its code again, and could spin)."""
    code = main()
    if watchdog.ABANDONED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
