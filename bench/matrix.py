"""The scenario matrix: ``python -m bench run --scenario all`` (every built-in comparison scenario) or
``--scenario a,b,c`` (a list of names or paths) runs the same strategies on each scenario in turn.

Layout, never overwriting anything::

    <out>/<UTC time>-matrix/
        matrix.json           {"schema": 1, "kind": "matrix", "scenarios": [...], "strategies": [...],
                               "clock": ..., "repeat": N, "done": [...], "complete": bool}
        INCOMPLETE            until every scenario finished
        <scenario>/           one ordinary run directory per scenario (results.json, csvs, report)

``matrix.json`` is rewritten after each scenario, so an interrupted matrix says which scenarios it holds
(``done``) and stays ``"complete": false``; the scenario in progress keeps its own partial run, marked as
any interrupted run is. Progress (scenarios done / total, elapsed, an ETA from the scenarios' sizes) goes
to stderr.

>>> is_matrix("all"), is_matrix("steady,outage"), is_matrix("steady"), is_matrix("examples/github.toml")
(True, True, False, False)
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from bench import exitcodes, results, scenarios, terminal
from bench.scenarios import Scenario, ScenarioError

#: The ``--scenario`` value that means every built-in comparison scenario.
ALL = "all"
SCHEMA = 1
#: Written in the matrix directory, next to the per-scenario run directories.
MATRIX_FILE = "matrix.json"

#: Runs one scenario into the given (new, empty but for INCOMPLETE) directory; returns the exit code.
RunScenario = Callable[[Scenario, Path], int]


def is_matrix(spec: str) -> bool:
    """Whether ``--scenario`` names a matrix (``all`` or a comma-separated list) rather than one scenario."""
    return spec == ALL or "," in spec


def load(spec: str) -> list[Scenario]:
    """The scenarios of ``spec``: every built-in comparison scenario for ``all``, else each listed name or
    path, in order. :class:`ScenarioError` for an unknown one, an empty item, or two with the same name (their
    run directories would collide).

    >>> [s.name for s in load("steady, outage")]
    ['steady', 'outage']
    """
    items = scenarios.comparison_names() if spec == ALL else [s.strip() for s in spec.split(",")]
    if any(not s for s in items):
        raise ScenarioError(f"--scenario {spec!r}: an empty name in the list (give names or paths separated by ',')")
    loaded = [scenarios.load(s) for s in items]
    seen: dict[str, str] = {}
    for item, sc in zip(items, loaded, strict=True):
        if sc.name in seen:
            raise ScenarioError(f"--scenario: {item!r} and {seen[sc.name]!r} are both scenario {sc.name!r} "
                                "(each scenario gets one run directory in the matrix)")
        seen[sc.name] = item
    return loaded


#: Why each kind of built-in is not in ``--scenario all`` (bench.scenarios.KINDS).
LEFT_OUT_WHY = {"harness": "harness checks, run with chosen strategies",
                "multi-process": "needs --processes N, one scenario at a time"}


def left_out() -> str | None:
    """The line a ``--scenario all`` matrix starts with: the built-ins it leaves out, by kind, and why.

    >>> print(left_out())  # doctest: +ELLIPSIS
    matrix: --scenario all leaves out idle-burst, paced-100, ... (harness checks, ...); shared-quota (needs ...)
    """
    by: dict[str, list[str]] = {}
    for name in scenarios.builtin_names():
        kind = scenarios.load(name).kind
        if kind != "comparison":
            by.setdefault(kind, []).append(name)
    if not by:
        return None
    return "matrix: --scenario all leaves out " + "; ".join(
        f"{', '.join(names)} ({LEFT_OUT_WHY.get(kind, kind)})" for kind, names in by.items()
    ) + ": run them by name (--scenario NAME)"


def estimate_s(sc: Scenario) -> float:
    """A size for the ETA: seconds the fastest client the *declared* quota allows needs for the workload
    (jobs over the tightest request rate, the jobs' total cost over the tightest token rate, or the release
    schedule of an open-loop workload, whichever is longest), plus the server latency. Per strategy and
    repeat; measured runs of every strategy average about this (header pacers take twice as long, clients that
    ignore the quota almost nothing).

    >>> estimate_s(scenarios.load("steady")), estimate_s(scenarios.load("llm-api"))  # 10 341 tokens at 1000/s
    (3.01, 10.361)
    """
    wl = sc.workload
    tokens = sum(wl.costs()) if sc.declared.token_tiers else 0
    quota_s = max([wl.jobs * t.window_s / t.limit for t in sc.declared.tiers if t.unit == "requests"]
                  + [tokens * t.window_s / t.limit for t in sc.declared.token_tiers], default=0.0)
    release_s = wl.jobs / wl.rate if wl.release == "rate" and wl.rate else 0.0
    return round(max(quota_s, release_s) + sc.latency_s, 3)


def _clock(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60}:{s % 60:02d}"


class Progress:
    """Scenarios done / total and an ETA: the elapsed time scaled by the sizes (:func:`estimate_s`) still to
    run over those done; before the first scenario finishes, the sizes themselves (real clock only: a virtual
    run takes a fraction of them).

    >>> p = Progress([2.0, 6.0], per_size=1.0, start=0.0)
    >>> p.line(0, now=0.0)
    'matrix: 0/2 scenarios done, elapsed 0:00, ETA ~0:08'
    >>> p.line(1, now=4.0)  # the first took 4 s for size 2: twice the estimate, so 6 → 12 s
    'matrix: 1/2 scenarios done, elapsed 0:04, ETA ~0:12'
    """

    def __init__(self, sizes: Sequence[float], per_size: float | None, start: float) -> None:
        self.sizes, self.per_size, self.start = list(sizes), per_size, start

    def line(self, done: int, now: float) -> str:
        elapsed = now - self.start
        left = sum(self.sizes[done:])
        ran = sum(self.sizes[:done])
        if done and ran > 0:
            eta: float | None = elapsed / ran * left
        else:
            eta = left * self.per_size if self.per_size is not None else None
        tail = "" if eta is None else f", ETA ~{_clock(eta)}"
        return f"matrix: {done}/{len(self.sizes)} scenarios done, elapsed {_clock(elapsed)}{tail}"


def _rows(rows: Sequence[int]) -> str:
    """The banner's count of rows (configurations) per scenario, as the single-run banner counts them.

    >>> _rows([3, 3]), _rows([2, 3])
    ('3 strategies', '2–3 strategies (configurations; per scenario)')
    """
    low, high = min(rows, default=0), max(rows, default=0)
    if low == high:
        return terminal.plural(low, "strategy")
    return f"{low}–{high} strategies (configurations; per scenario)"


def _scenario_dir(matrix_dir: Path, name: str) -> Path:
    path = matrix_dir / name  # a scenario name is letters, digits, '.', '_', '-' (bench.scenarios)
    path.mkdir()  # never an existing directory: the matrix directory is new
    (path / results.INCOMPLETE).write_text("this run has not finished; results.json holds what was measured so far\n")
    return path


def _write(matrix_dir: Path, doc: dict[str, Any]) -> None:
    results.write_atomic(matrix_dir / MATRIX_FILE, json.dumps(doc, indent=2) + "\n")


def run(loaded: Sequence[Scenario], strategies: Sequence[str], *, clock: str, repeat: int, out: Path,
        run_scenario: RunScenario, run_dir: Path | None = None,
        summaries: list[dict[str, Any]] | None = None, rows: Sequence[int] | None = None,
        note: str | None = None) -> int:
    """Run every scenario of ``loaded`` with ``run_scenario`` into a new matrix directory under ``out``.
    Stops at the first scenario that does not finish (exit code non-zero: interrupted, a dead server, a full
    disk), keeping what was measured; returns 0 when every scenario finished, 3 (bench.exitcodes) when
    one had a strategy that failed or timed out, else the stopping code. ``run_dir``: the matrix directory,
    exactly (``--run-dir``; it must not exist), instead of a new one under ``out``.

    ``summaries`` (``run --json``): a list ``run_scenario`` appends each scenario's summary to; then stdout
    holds one JSON document alone (the matrix directory, whether it is complete, the exit code and those
    summaries), and the text that would go there (the verdict, the directory) goes to stderr.

    ``rows``: per scenario, the rows (configurations: a ``--param`` sweep makes several of one strategy) it
    runs, for the banner and the ETA (default: one per strategy); ``note``: a line to print first
    (:func:`left_out`)."""
    matrix_dir = results.exact_run_dir(run_dir) if run_dir is not None else results.new_run_dir(out, "matrix")
    text = sys.stderr if summaries is not None else sys.stdout
    doc: dict[str, Any] = {}
    if note:
        print(note, file=sys.stderr)
    code = _run(matrix_dir, doc, loaded, strategies, clock, repeat, run_scenario, text,
                list(rows) if rows is not None else [len(strategies)] * len(loaded))
    if summaries is not None:
        print(json.dumps({"matrix_dir": str(matrix_dir), "complete": doc.get("complete", False), "exit_code": code,
                          "done": doc.get("done", []), "scenarios": summaries}, indent=2, allow_nan=False))
    return code


def _run(matrix_dir: Path, doc: dict[str, Any], loaded: Sequence[Scenario], strategies: Sequence[str], clock: str,
         repeat: int, run_scenario: RunScenario, text: TextIO, rows: Sequence[int]) -> int:
    doc |= {
        "schema": SCHEMA, "kind": "matrix", "scenarios": [s.name for s in loaded], "strategies": list(strategies),
        "clock": clock, "repeat": repeat, "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "done": [], "complete": False,
    }
    _write(matrix_dir, doc)
    sizes = [estimate_s(s) * n * repeat for s, n in zip(loaded, rows, strict=True)]
    progress = Progress(sizes, 1.0 if clock == "real" else None, time.monotonic())
    print(f"ratebench: matrix of {terminal.plural(len(loaded), 'scenario')} × {_rows(rows)} × "
          f"{terminal.plural(repeat, 'repeat')}, "
          f"{clock} clock → {matrix_dir}", file=sys.stderr)
    code, failed = 0, False
    try:
        for i, sc in enumerate(loaded):
            print(progress.line(i, time.monotonic()) + f"; next: {sc.name}", file=sys.stderr)
            code = run_scenario(sc, _scenario_dir(matrix_dir, sc.name))
            if code == exitcodes.STRATEGY_FAILED:  # finished, a strategy failed there: its row says why; go on
                failed = True
            elif code != exitcodes.OK:
                print(f"matrix: scenario {sc.name!r} did not finish (exit {code}): stopping; the matrix is kept, "
                      "marked INCOMPLETE", file=sys.stderr)
                return code
            doc["done"].append(sc.name)
            _write(matrix_dir, doc)
        doc["complete"] = True
        _write(matrix_dir, doc)
        (matrix_dir / results.INCOMPLETE).unlink(missing_ok=True)
        print(progress.line(len(loaded), time.monotonic()), file=sys.stderr)
        print(f"\nmatrix: {matrix_dir}/", file=text)
        return exitcodes.STRATEGY_FAILED if failed else exitcodes.OK
    except OSError as e:  # a full disk, an unwritable directory: what was written stays, marked INCOMPLETE
        print(f"ratebench: matrix stopped: {e}", file=sys.stderr)
        return 1
    finally:
        if doc["done"]:
            _report(matrix_dir, text)
        if not doc["complete"]:
            print(f"\nmatrix: {matrix_dir}/  (INCOMPLETE: {len(doc['done'])}/{len(loaded)} scenarios)", file=text)


def _report(matrix_dir: Path, text: TextIO) -> None:
    """The cross-scenario verdict and heat map (bench.matrix_report), from what is on disk; a report that
    cannot be written is said, with the command that retries it, and the measurements stay."""
    from bench import matrix_report

    try:
        print(matrix_report.write(matrix_dir), file=text)
    except Exception as e:
        print(f"ratebench: the matrix report was not written ({e}); retry with: ratebench report {matrix_dir}",
              file=sys.stderr)
