"""ratebench: which asyncio throttling strategy goes as fast as a rate-limited API allows without crossing
its limits. List strategies and scenarios, run comparisons, rebuild reports, judge runs in CI.

Exit codes of run: 0 every run finished; 3 finished, but a strategy failed or timed out (its row and
reason are in the table); 1 interrupted (a signal, a dead server, a full disk: what was measured is kept,
marked INCOMPLETE; a second Ctrl-C exits at once); 2 bad input. check: 0 hold, 1 breach, 2 bad input.
Also runs as: python -m bench.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from bench import (
    ceiling,
    exitcodes,
    matrix,
    multiprocess,
    netmodel,
    params,
    redis_server,
    report,
    results,
    scenarios,
    suggest,
    terminal,
    watchdog,
)
from bench.runner import RunResult, run_one, virtual_setup
from bench.scenarios import Scenario, ScenarioError
from bench.transport import DEFAULT_TRANSPORT, TRANSPORTS, RealServer, ServerError
from mock_server import process
from strategies import registry
from strategies.base import Tier
from strategies.registry import UnknownStrategy

T = TypeVar("T")


class UsageError(Exception):
    pass


def _list(args: argparse.Namespace) -> int:
    # Each strategy's parameters (bench.params; default None: derived from the quota), so --param can be found.
    strategies: list[dict[str, Any]] = [
        {"name": n, "description": (cls := registry.resolve(n)).description, "params": params.describe(cls)}
        for n in registry.names()]
    scen = [{"name": n, "kind": (sc := scenarios.load(n)).kind, "description": sc.description}
            for n in scenarios.builtin_names()]
    if args.json:
        print(json.dumps({"strategies": strategies, "scenarios": scen}, indent=2))
        return 0
    w = max(len(s["name"]) for s in strategies + scen)
    print("strategies:")
    for s in strategies:
        print(f"  {s['name']:<{w}}  {s['description']}")
        if s["params"]:
            print(f"  {'':<{w}}  params: " + ", ".join(
                f"{p['name']}={'(from quota)' if p['default'] is None else p['default']}" for p in s["params"]))
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


def write_report(run_dir: Path, color: bool = False) -> str:
    """(Re)build report.md, report.html and charts from what is on disk; returns the terminal table (failed and
    over-limit rows marked, in colour with ``color``; the failed runs' reasons under it)."""
    from bench import charts

    doc = results.load(run_dir)
    try:
        quota = doc["meta"]["resolved"]["server"]["quota"]
        tiers = [Tier(q["limit"], q["window_s"]) for q in quota]
        if any(not (isinstance(t.limit, int) and isinstance(t.window_s, int | float) and t.window_s > 0)
               for t in tiers):
            raise ValueError("meta.resolved.server.quota: limits and windows must be positive numbers")
        v, rows = report.ranked(doc)
        notes = report.harness_notes(doc)
        flagged = [report.LEGEND, *notes] if notes or any(r.get("harness") for r in rows) else []
        flagged += report.client_legend(rows)
        spread = [report.SPREAD_NOTE] if any(r.get("spread") for r in rows) else []
        table = terminal.annotate(report.text_table(rows, report.reject_status(doc["meta"])), rows, color=color)
        table = "\n".join([table, *spread, *flagged, *terminal.failures(doc["runs"]), "",
                           f"verdict: {v.headline()}"])
        written = charts.write_all(run_dir, doc) if _arrivals_intact(run_dir, doc) else []
        markdown, page = report.render_markdown(doc, written), report.render_html(doc, written, base=run_dir)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{run_dir}: results.json is not a usable ratebench run ({e!r}); hand-edited?") from None
    results.write_atomic(run_dir / "report.md", markdown)
    results.write_atomic(run_dir / "report.html", page)
    return table


def interleaved(items: Sequence[T], repeat: int) -> Iterator[tuple[int, T]]:
    """``(repeat index, item)`` for every repetition, strategies interleaved: repetition 0 of every item,
    then repetition 1 of every item, … — so a slow spell of the machine lands on several strategies'
    repeats, not on all N repeats of one (which would then look slow, with a tight spread).

    >>> list(interleaved(["a", "b"], 2))
    [(0, 'a'), (0, 'b'), (1, 'a'), (1, 'b')]
    """
    for k in range(repeat):
        for item in items:
            yield k, item


def _execute(scenario: Scenario, names: Sequence[str], repeat: int, clock: str,
             on_result: Callable[[RunResult], None], transport: str = DEFAULT_TRANSPORT,
             on_ceiling: Callable[[ceiling.Calibration], None] | None = None,
             profile: netmodel.Profile | None = None, target: str | None = None,
             spec: params.Spec | None = None, on_start: Callable[[str, int], None] | None = None,
             processes: int = 1) -> None:
    """Every run under the watchdog (bench.watchdog): a strategy that hangs, blocks or exits is a row.

    Virtual runs draw their network delays and timer lateness from ``profile`` (``None``: schedule only),
    seeded per scenario and repeat (:func:`bench.netmodel.seed_for`). ``spec``: parameter settings
    (bench.params); each configuration, each value of a sweep, is a row of its own. ``on_start(strategy,
    repeat)`` is called before each run (the progress display), ``on_result`` after it. Repeats interleave:
    repeat 0 of every strategy, then repeat 1, ... (:func:`interleaved`). A strategy that needs Redis gets a
    private redis-server, or a ``skipped`` row saying why not (bench.redis_server). ``processes`` > 1 splits
    each run across that many client processes (bench.multiprocess; real clock only)."""
    classes = params.expand(names, spec if spec is not None else scenario.params)
    started = on_start or (lambda name, k: None)
    if target is not None:  # someone else's API (bench.target): no mock server, no ceiling burst at it
        from bench import target as foreign

        foreign.execute(target, transport, scenario, classes, repeat, on_result, on_start=started)
        return
    prepare = redis_server.Preparer(virtual=clock == "virtual")  # starts nothing unless a strategy needs Redis
    if clock == "virtual":
        for k, cls in interleaved(classes, repeat):
            if (why := prepare(cls)) is not None:
                on_result(redis_server.skipped(cls, scenario, k, why))
                continue
            # A fresh loop per run, so a fresh in-process server bound to that loop's clock.
            server, loop = virtual_setup(scenario, k, profile)
            started(cls.name, k)
            on_result(watchdog.run(run_one, cls, scenario, server, k, virtual=True, loop_factory=loop).result)
        return

    real = RealServer(transport=transport).__enter__()
    try:
        if on_ceiling is not None:  # the harness's own ceiling first (< 1 s), to warn about what it cannot keep
            on_ceiling(asyncio.run(ceiling.measure(real, scenario)))
        for k, cls in interleaved(classes, repeat):
            if (why := prepare(cls)) is not None:
                on_result(redis_server.skipped(cls, scenario, k, why))
                continue
            started(cls.name, k)
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


def _near_misses(args: argparse.Namespace) -> None:
    """A mistyped built-in name: the near ones ("did you mean"), not a list of all 28."""
    known = registry.names()
    for n in (s.strip() for s in args.strategies.split(",")):
        if n and n != "all" and ":" not in n and n not in known:
            raise UsageError(f"--strategies: unknown strategy {n!r}{suggest.did_you_mean(n, known)}; "
                             "`ratebench list` shows them all")
    known_sc = [*scenarios.builtin_names(), *scenarios.ALIASES]
    for sc in args.scenario.split(",") if matrix.is_matrix(args.scenario) else [args.scenario]:
        sc = sc.strip()
        if sc and sc != "all" and "/" not in sc and not sc.endswith(".toml") and not Path(sc).exists() \
                and sc not in known_sc:
            raise UsageError(f"--scenario: unknown scenario {sc!r}{suggest.did_you_mean(sc, known_sc)}"
                             "; give a built-in name (`ratebench list`) or a .toml file")


def _run(args: argparse.Namespace) -> int:
    _near_misses(args)
    try:
        loaded = matrix.load(args.scenario) if matrix.is_matrix(args.scenario) else [scenarios.load(args.scenario)]
        names = registry.parse_list(args.strategies)
        cli_params = params.parse_cli(args.param)
    except (ScenarioError, UnknownStrategy, params.ParamError) as e:
        raise UsageError(str(e)) from None
    if args.repeat < 1:
        raise UsageError(f"--repeat: must be >= 1, got {args.repeat}")
    _combinations(args)
    if args.target is not None:
        loaded = [_target_scenario(args, sc) for sc in loaded]
    for sc in loaded:  # every scenario's parameters, profile and process count checked before anything runs
        _spec(sc, names, cli_params)
        _profile(args, sc)
        if (why := multiprocess.usage_error(args.processes, args.clock, sc.kind)) is not None:
            raise UsageError(why)
    if matrix.is_matrix(args.scenario):  # one run directory per scenario, in a new matrix directory
        try:
            # --json: each scenario's summary is collected (not printed), and the matrix prints one document.
            args.summaries = [] if args.json else None
            return matrix.run(loaded, names, clock=args.clock, repeat=args.repeat, out=Path(args.out),
                              run_dir=Path(args.run_dir) if args.run_dir else None,
                              run_scenario=lambda sc, run_dir: _run_in(args, sc, names, run_dir, cli_params),
                              summaries=args.summaries,
                              rows=[len(params.expand(names, _spec(sc, names, cli_params)[0])) for sc in loaded],
                              note=matrix.left_out() if args.scenario == matrix.ALL else None)
        except OSError as e:  # the matrix directory itself cannot be made (matrix.run keeps later errors)
            raise UsageError(str(e)) from None
    try:
        run_dir = (results.exact_run_dir(Path(args.run_dir)) if args.run_dir
                   else results.new_run_dir(Path(args.out), loaded[0].name))
    except OSError as e:
        raise UsageError(str(e)) from None
    return _run_in(args, loaded[0], names, run_dir, cli_params)


def _combinations(args: argparse.Namespace) -> None:
    """Options that do not go together, refused before anything runs (exit 2)."""
    many = matrix.is_matrix(args.scenario)
    if args.target is not None and many:
        raise UsageError(f"--target with --scenario {args.scenario!r}: one scenario only (each scenario models "
                         "a different quota; a foreign API has one)")
    if args.target is not None and args.processes > 1:
        raise UsageError(f"--target with --processes {args.processes}: not supported (a target run uses one "
                         "client process); drop --processes")
    if args.processes > 1 and many:
        raise UsageError(f"--processes {args.processes} with --scenario {args.scenario!r}: one scenario only "
                         "(run the multi-process scenario on its own, e.g. --scenario shared-quota)")
    if args.profile is not None and args.clock != "virtual":
        raise UsageError("--profile: only with --clock virtual (a real run has the machine's own delays)")


def _spec(scenario: Scenario, names: Sequence[str], cli: params.Spec) -> tuple[params.Spec, dict[str, Any]]:
    """The parameter settings for ``scenario`` (its own, the command line's on top) and, for a sweep, which
    row is which configuration (results.json ``meta.params``)."""
    try:
        spec = params.merge(scenario.params, cli)
        return spec, params.sweep_meta(params.expand(names, spec))
    except (params.ParamError, UnknownStrategy) as e:
        raise UsageError(str(e)) from None


def _profile(args: argparse.Namespace, scenario: Scenario) -> netmodel.Profile | None:
    try:
        return netmodel.load_profile(args.profile or scenario.profile) if args.clock == "virtual" else None
    except netmodel.ProfileError as e:
        raise UsageError(f"--profile: {e}" if args.profile else f"virtual.profile: {e}") from None


def _run_in(args: argparse.Namespace, scenario: Scenario, names: Sequence[str], run_dir: Path,
            cli_params: params.Spec) -> int:
    """Run ``scenario`` into ``run_dir`` (new, holding only its INCOMPLETE marker)."""
    spec, sweep = _spec(scenario, names, cli_params)
    profile_spec, profile = args.profile or scenario.profile, _profile(args, scenario)
    # "http+aiohttp": the server is reached over real sockets, through the harness client named after the "+".
    transport = "asgi" if args.clock == "virtual" else f"{'target' if args.target else 'http'}+{args.transport}"
    try:
        writer = _writer(run_dir, args, scenario, names, transport, profile_spec, profile)
    except results.WriteError as e:
        raise UsageError(str(e)) from None
    if sweep:  # which row is which configuration (bench.params), for the report's sweep charts
        writer.meta["params"] = sweep
    return _run_all(args, scenario, names, run_dir, writer, profile, spec)


def _target_scenario(args: argparse.Namespace, scenario: Scenario) -> Scenario:
    """``--target URL``: checked (real clock, an http(s) URL), and the scenario as the harness models the
    foreign API (bench.target)."""
    from bench import target

    if args.clock == "virtual":
        raise UsageError("--target: real clock only (the virtual clock must not jump while requests are on the "
                         "network); drop --clock virtual")
    try:
        args.target = target.check_url(args.target)
        sc = target.scenario_for(scenario)
        target.check_reachable(args.target)  # one connection, no request: an unreachable URL is not a run
        return sc
    except target.TargetError as e:
        raise UsageError(str(e)) from None


def _writer(run_dir: Path, args: argparse.Namespace, scenario: Scenario, names: Sequence[str],
            transport: str, profile_spec: str, profile: netmodel.Profile | None) -> results.RunWriter:
    from bench import target

    return results.RunWriter(run_dir, results.meta(clock=args.clock, transport=transport,
                                                      scenario=scenario.source | {"name": scenario.name},
                                                      resolved=scenario.resolved(),
                                                      strategies=list(names), repeat=args.repeat)
                             | ({"processes": args.processes} if args.processes > 1 else {})
                             | _netmodel_meta(args.clock, profile_spec, profile, scenario, args.repeat)
                             | (target.meta(args.target) if args.target else {}))


def _run_all(args: argparse.Namespace, scenario: Scenario, names: Sequence[str], run_dir: Path,
             writer: results.RunWriter, profile: netmodel.Profile | None, spec: params.Spec | None = None) -> int:
    from bench import progress

    rows = len(params.expand(names, spec if spec is not None else scenario.params))
    total = rows * args.repeat
    print(f"ratebench: scenario {scenario.name!r}, {terminal.plural(rows, 'strategy')} × "
          f"{terminal.plural(args.repeat, 'repeat')}, {args.clock} clock → {run_dir}", file=sys.stderr)
    shown = progress.reporter(total, scenario.server.headers.reject_status)

    def on_result(r: RunResult) -> None:
        writer.add(r)
        m = r.metrics
        note = "; ".join(x for x in (r.error if r.status != "ok" else None,
                                     f"DISTURBED: {r.disturbed}" if r.disturbed else None) if x)
        shown.finished(r.strategy, r.repeat, r.status, r.wall_s, m.succeeded, m.requests, m.throttled, note or None)
        for p in r.processes:  # a --processes N run: what each client process did, beside the total
            shown.note(f"      process {p['process']}: {p['succeeded']}/{p['requests']} ok  {p['throttled']} × 429  "
                       f"burst of its own arrivals {p['burst_ratio']}")

    def on_ceiling(c: ceiling.Calibration) -> None:
        writer.meta["ceiling"] = c.to_dict()
        shown.note(f"  harness ceiling {c.ceiling_rps or 0:.0f}/s ({c.requests} requests, {c.concurrency} in flight)"
                   + (f" — WARNING: {c.warning}" if c.warning else ""))

    complete = False
    try:
        _execute(scenario, names, args.repeat, args.clock, on_result, args.transport, on_ceiling, profile,
                 target=getattr(args, "target", None), spec=spec, on_start=shown.started, processes=args.processes)
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
    finally:
        shown.close()
    try:
        if complete:
            writer.finish()
    except OSError as e:  # a full disk: the runs are safe in results.json, which only lacks "complete"
        complete = False
        print(f"ratebench: cannot mark the run complete: {e}", file=sys.stderr)
    # ``complete`` in results.json means every measurement is on disk; the report is derived from it
    # and can be rebuilt, but a report that could not be written is an error of this command, not hidden.
    # With --json, stdout holds the summary alone; the table goes to stderr.
    table_out = sys.stderr if args.json else sys.stdout
    try:
        table = write_report(run_dir, terminal.use_color(table_out)) if writer.runs else "(no runs finished)"
    except Exception as e:
        print(f"ratebench: the report was not written ({e}); the measurements are in {run_dir}/results.json — "
              f"retry with: ratebench report {run_dir}", file=sys.stderr)
        table = report.text_table(report.summarise(writer.runs)) if writer.runs else "(no runs written)"
        print(table, file=table_out)
        _print_summary(args, run_dir, writer, complete, exitcodes.INTERRUPTED)
        return exitcodes.INTERRUPTED
    print(table, file=table_out)
    print(f"\nresults: {run_dir}/" + ("" if complete else "  (INCOMPLETE)"), file=table_out)
    code = exitcodes.for_runs(writer.runs, complete=complete)
    if code == exitcodes.STRATEGY_FAILED:
        print(f"ratebench: exit {code}: a strategy failed or timed out (reasons above)", file=sys.stderr)
    _print_summary(args, run_dir, writer, complete, code)
    return code


def _print_summary(args: argparse.Namespace, run_dir: Path, writer: results.RunWriter, complete: bool,
                   code: int) -> None:
    """``run --json``: the run's summary on stdout, for scripts (the table went to stderr)."""
    if not args.json:
        return
    rows = report.summarise(writer.runs, writer.meta) if writer.runs else []
    summary = {"run_dir": str(run_dir), "complete": complete, "exit_code": code,
                      "scenario": writer.meta["scenario"].get("name"), "clock": writer.meta["clock"],
                      "runs": [{k: r.get(k) for k in ("strategy", "repeat", "status", "error")} for r in writer.runs],
                      "ranking": [{k: row.get(k) for k in ("rank", "strategy", "status", "compliant", "completion",
                                                           "throttled", "burst_ratio", "efficiency",
                                                           "throughput_rps")} for row in rows]}
    if (collected := getattr(args, "summaries", None)) is not None:  # a matrix: printed once, for all scenarios
        collected.append(summary)
        return
    print(json.dumps(summary, indent=2, allow_nan=False))


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
        return exitcodes.INTERRUPTED


def _report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if (run_dir / "matrix.json").is_file():  # a matrix directory: one report over its scenarios' runs
        from bench import matrix_report

        return _rebuild(run_dir, lambda: matrix_report.write(run_dir))
    return _rebuild(run_dir, lambda: write_report(run_dir, terminal.use_color(sys.stdout)))


def _rebuild(run_dir: Path, write: Callable[[], str]) -> int:
    """Write a report with ``write`` (it returns the terminal text); unreadable input is a usage error."""
    try:
        print(write())
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


def _compare(args: argparse.Namespace) -> int:
    from bench import compare

    return compare.main(Path(args.run_a), Path(args.run_b), alpha=args.alpha, min_effect=args.min_effect,
                        metrics=args.metrics, as_json=args.json, fail_on_regression=args.fail_on_regression)


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written (line breaks kept), and every option's default after its help text (not for
    flags, whose default is off, nor where the help text says what happens without the option)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("ratebench")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _prog() -> str:
    """``ratebench`` when run as the installed command, ``python -m bench`` as a module."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "python -m bench" if name in ("__main__.py", "", "-c") else name


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog or _prog(), description=__doc__, formatter_class=_Help)
    ap.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_Help)

    p = add("list", help="strategies and built-in scenarios")
    p.add_argument("--json", action="store_true", help="machine-readable list on stdout")
    p.set_defaults(func=_list)
    p = add("run", help="run strategies against the mock server (exit 0 all ok, 3 a strategy failed or timed out, "
                        "1 interrupted, 2 bad input)")
    p.add_argument("--scenario", default="default",
                   help="built-in name or path to a .toml file; 'all' or a comma-separated list: the matrix")
    p.add_argument("--strategies", default="all", help="comma-separated names, module:Class, or 'all'")
    p.add_argument("--repeat", type=int, default=1, help="runs per strategy (a fresh server state for each)")
    p.add_argument("--clock", choices=("real", "virtual"), default="real",
                   help="real: uvicorn over 127.0.0.1; virtual: in-process ASGI under virtual time")
    p.add_argument("--out", default="results", help="parent directory; each run gets a new subdirectory")
    p.add_argument("--run-dir", default=None, metavar="PATH",
                   help="write into exactly this directory instead (it must not exist yet; for CI); overrides --out")
    p.add_argument("--json", action="store_true",
                   help="print the run's summary (run directory, statuses, ranking, exit code) as JSON on stdout; "
                        "the table goes to stderr")
    p.add_argument("--transport", choices=tuple(TRANSPORTS), default=DEFAULT_TRANSPORT,
                   help="the harness's client in real mode (docs/transports.md)")
    p.add_argument("--profile", default=None, metavar="NAME|FILE|none",
                   help="virtual clock: network/timer profile (default: the scenario's, else the shipped "
                        "'default'); 'none' = schedule only, no delays or late timers")
    p.add_argument("--target", default=None, metavar="URL",
                   help="run against this http(s) API instead of the mock (real clock; burst metrics from client "
                        "send times; docs/target.md)")
    p.add_argument("--param", action="append", default=[], metavar="STRATEGY.NAME=V[,V...]",
                   help="set a strategy parameter (repeatable); several values sweep it, one row per value "
                        "(e.g. pyrate-memory.buffer_ms=0,10,25,50; `ratebench list` and docs/workloads.md list "
                        "the parameters)")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="split each run's jobs across N client processes on one API key (real clock; "
                        "docs/scaling.md)")
    p.set_defaults(func=_run)
    p = add("calibrate", help="measure this machine's delays and timer lateness into a profile")
    p.add_argument("--out", default=None, help="profile file to write (default: results/profile-<time>.json)")
    p.add_argument("--quick", action="store_true", help="a fifth of the samples (a smoke test, not a profile)")
    p.set_defaults(func=_calibrate)
    p = add("report", help="rebuild report.md, report.html and charts of a run directory (or of a matrix directory: "
                           "one with matrix.json)")
    p.add_argument("run_dir", help="a directory `ratebench run` wrote")
    p.set_defaults(func=_report)
    p = add("check", help="the gate: judge a run against thresholds (exit 0 hold, 1 breach, 2 bad input)")
    p.add_argument("run_dir", help="a directory `ratebench run` wrote")
    p.add_argument("--thresholds", required=True, help="TOML file of rules (docs/ci.md)")
    p.add_argument("--baseline", default=None,
                   help="an earlier run directory of the same scenario, for the baseline rules")
    p.add_argument("--json", action="store_true", help="machine-readable verdict on stdout")
    p.set_defaults(func=_check)
    p = add("compare", help="what changed from RUN_A to RUN_B, per strategy and metric, and whether it "
                                      "is significant (docs/compare.md)")
    p.add_argument("run_a", help="the earlier run directory (the baseline)")
    p.add_argument("run_b", help="the later run directory, of the same scenario")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of Welch's t-test (default 0.05)")
    p.add_argument("--min-effect", default=None, metavar="PCT",
                   help="smallest relative change of the mean called significant (default 5%%)")
    p.add_argument("--metrics", default=None, help="comma-separated subset of the compared metrics")
    p.add_argument("--json", action="store_true", help="machine-readable comparison on stdout")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when a change is significant and worse (default: exit 0; the gate is `check`)")
    p.set_defaults(func=_compare)
    return ap


@contextlib.contextmanager
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


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with _signals():
            return func(args)
    except UsageError as e:
        print(f"ratebench: {e}", file=sys.stderr)
        return exitcodes.USAGE
    except KeyboardInterrupt:  # a signal outside a run (start-up, report): nothing measured to keep
        print("ratebench: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    except BrokenPipeError:  # `ratebench list | head`: the reader left; not an error of ours
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exitcodes.OK


def console() -> None:
    """The ``ratebench`` script: :func:`main`, then exit without finalising strategies the watchdog stopped
    (collecting a coroutine that swallows everything would run its code again, and could spin)."""
    code = main(prog=_prog())
    if watchdog.ABANDONED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
