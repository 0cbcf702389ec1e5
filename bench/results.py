"""Run directories: immutable, versioned results on disk.

A run directory is created fresh for every invocation (an existing one is never reused), marked
``INCOMPLETE`` until the last strategy has been written, and rewritten after each strategy so an
interrupted run keeps everything measured so far.

Layout: ``results.json``, ``requests.csv``, ``arrivals.csv`` (the server's log), ``report.md``,
``report.html``, ``charts/*.png``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.records import Arrival, Attempt
from mock_server.ticks import from_seconds

if TYPE_CHECKING:  # results only reads run results; importing the runner would invert the layers
    from bench.runner import RunResult

SCHEMA_VERSION = 1
CSV_FIELDS = ("strategy", "repeat", "job", "attempt", "intended_s", "sent_s", "arrival_s", "done_s", "status",
              "arrival_ns")
#: The server's own log, per run: ground truth for every burst metric and for peak concurrency. ``t_ns``
#: is the exact server time since run start in integer ns (what the window metrics count); ``t`` the
#: same in seconds, for reading.
ARRIVAL_FIELDS = ("strategy", "repeat", "request_id", "t", "status", "key", "in_flight", "t_ns", "cost")
INCOMPLETE = "INCOMPLETE"
PACKAGES = ("httpx", "httpcore", "httpx-aiohttp", "aiohttp", "sniffio",
            "starlette", "uvicorn", "httptools", "aiolimiter", "aiometer",
            "asyncio-throttle", "asynciolimiter", "pyrate-limiter", "tenacity", "aiobreaker", "purgatory",
            "matplotlib")


def new_run_dir(parent: Path, scenario: str) -> Path:
    """``parent/<UTC time>-<scenario>``, with ``-2``, ``-3``… if taken: never an existing directory."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(f"--out {parent}: exists and is not a directory") from None
    for n in range(1, 1000):
        path = parent / (f"{stamp}-{scenario}" + (f"-{n}" if n > 1 else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        (path / INCOMPLETE).write_text("this run has not finished; results.json holds what was measured so far\n")
        return path
    raise FileExistsError(f"no free run directory name under {parent}")


def _git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def meta(*, clock: str, transport: str, scenario: dict[str, Any], resolved: dict[str, Any], strategies: list[str],
         repeat: int, argv: list[str] | None = None) -> dict[str, Any]:
    """Run metadata: where, with what, and the scenario both as written (``scenario``) and as run,
    defaults filled in (``resolved``)."""
    return {
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "git_sha": _git_sha(),
        "packages": _versions(),
        "clock": clock,
        "transport": transport,
        "strategies": strategies,
        "repeat": repeat,
        "argv": argv if argv is not None else sys.argv,
        "scenario": scenario,
        "resolved": resolved,
    }


def run_entry(r: RunResult) -> dict[str, Any]:
    entry = {"strategy": r.strategy, "repeat": r.repeat, "status": r.status, "error": r.error,
             "wall_s": r.wall_s, "metrics": r.metrics.to_dict(),
             # Others' traffic or resets of the server during the run (runner docstring); 0 when undisturbed.
             "foreign_arrivals": r.foreign_arrivals, "outside_resets": r.outside_resets}
    if r.harness is not None:  # the harness's own lag (bench.harness_lag), beside the metrics it may taint
        entry["harness"] = r.harness.to_dict()
    return entry


class RunWriter:
    """Writes one run directory incrementally: call :meth:`add` per finished run, :meth:`finish` at the end."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta
        self.runs: list[dict[str, Any]] = []
        with (path / "requests.csv").open("w", newline="") as f:
            csv.writer(f).writerow(CSV_FIELDS)
        with (path / "arrivals.csv").open("w", newline="") as f:
            csv.writer(f).writerow(ARRIVAL_FIELDS)
        self._write_json(complete=False)

    def add(self, r: RunResult) -> None:
        self.runs.append(run_entry(r))
        with (self.path / "requests.csv").open("a", newline="") as f:
            w = csv.writer(f)
            for a in r.attempts:
                w.writerow(csv_row(r.strategy, r.repeat, a))
        with (self.path / "arrivals.csv").open("a", newline="") as f:
            w = csv.writer(f)
            for v in r.arrivals:
                w.writerow([r.strategy, r.repeat, v.request_id, repr(v.t), v.status, v.key, v.in_flight, v.t_ns,
                            v.cost])
        self._write_json(complete=False)

    def finish(self) -> None:
        self._write_json(complete=True)
        (self.path / INCOMPLETE).unlink(missing_ok=True)

    def _write_json(self, *, complete: bool) -> None:
        doc = {"schema_version": SCHEMA_VERSION, "complete": complete, "meta": self.meta, "runs": self.runs}
        tmp = self.path / "results.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        tmp.replace(self.path / "results.json")


def csv_row(strategy: str, repeat: int, a: Attempt) -> list[object]:
    # repr() round-trips floats exactly, and arrival_ns is the server's integer time, so requests.csv
    # recomputes every metric to the last digit.
    return [strategy, repeat, a.job, a.attempt, repr(a.intended_s), repr(a.sent_s),
            "" if a.arrival_s is None else repr(a.arrival_s), repr(a.done_s), a.status,
            "" if a.arrival_ns is None else a.arrival_ns]


def read_requests(path: Path) -> dict[tuple[str, int], list[Attempt]]:
    """``requests.csv`` back into attempts, grouped by (strategy, repeat)."""
    out: dict[tuple[str, int], list[Attempt]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            ns = row.get("arrival_ns") or ""
            a = Attempt(int(row["job"]), int(row["attempt"]), float(row["intended_s"]), float(row["sent_s"]),
                        float(row["arrival_s"]) if row["arrival_s"] else None, float(row["done_s"]),
                        int(row["status"]), int(ns) if ns else None)
            out.setdefault((row["strategy"], int(row["repeat"])), []).append(a)
    return out


def read_arrivals(path: Path) -> dict[tuple[str, int], list[Arrival]]:
    """``arrivals.csv`` back into the server's log, grouped by (strategy, repeat)."""
    out: dict[tuple[str, int], list[Arrival]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            # Runs written before the integer column: their float seconds, rounded to the ns once.
            t_ns = int(row["t_ns"]) if row.get("t_ns") else from_seconds(float(row["t"]))
            # Runs written before the cost column: every arrival cost 1.
            a = Arrival(row["request_id"], t_ns, int(row["status"]), row["key"], int(row["in_flight"]),
                        int(row["cost"]) if row.get("cost") else 1)
            out.setdefault((row["strategy"], int(row["repeat"])), []).append(a)
    return out


def load(run_dir: Path) -> dict[str, Any]:
    p = Path(run_dir) / "results.json"
    if not p.exists():
        raise FileNotFoundError(f"{run_dir}: no results.json (not a run directory)")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{p}: cannot read it: {e}") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
        version = doc.get("schema_version") if isinstance(doc, dict) else None
        raise ValueError(f"{p}: schema_version {version!r} is not {SCHEMA_VERSION}")
    for key in ("meta", "runs"):
        if key not in doc:
            raise ValueError(f"{p}: no {key!r} (not a ratebench results file)")
    result: dict[str, Any] = doc
    return result
