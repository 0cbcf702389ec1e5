"""Run directories: immutable, versioned results on disk.

A run directory is created fresh for every invocation (an existing one is never reused), marked
``INCOMPLETE`` until the last strategy has been written, and rewritten after each strategy so an
interrupted run keeps everything measured so far.

Layout: ``results.json``, ``requests.csv``, ``arrivals.csv`` (the server's log), ``report.md``,
``report.html``, ``charts/*.png``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import json
import math
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import counters
from bench.records import Arrival, Attempt
from bench.request_ids import request_id
from mock_server.ticks import from_seconds

if TYPE_CHECKING:  # results only reads run results; importing the runner would invert the layers
    from bench.runner import RunResult

SCHEMA_VERSION = 1
#: ``request_id`` (last, so older files without it still read) is the id the server logged for the attempt
#: (:mod:`bench.request_ids`): the join key to arrivals.csv, a string to every CSV reader.
CSV_FIELDS = ("strategy", "repeat", "job", "attempt", "intended_s", "sent_s", "arrival_s", "done_s", "status",
              "arrival_ns", "request_id")
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


def exact_run_dir(path: Path) -> Path:
    """``path`` itself as a new run directory (``run --run-dir``, for CI): created with its parents; an
    existing path is refused, never written into (results are never overwritten)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
    except FileExistsError:
        raise FileExistsError(f"--run-dir {path}: already exists (a run directory is never reused)") from None
    except OSError as e:
        raise OSError(f"--run-dir {path}: cannot create it: {e.strerror or e}") from None
    (path / INCOMPLETE).write_text("this run has not finished; results.json holds what was measured so far\n")
    return path


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
    # "arrivals": how many rows arrivals.csv holds for this run, so that a truncated file is noticed.
    entry = {"strategy": r.strategy, "repeat": r.repeat, "status": r.status, "error": r.error,
             "wall_s": r.wall_s, "arrivals": len(r.arrivals), "metrics": r.metrics.to_dict(),
             # Others' traffic or resets of the server during the run (runner docstring); 0 when undisturbed.
             "foreign_arrivals": r.foreign_arrivals, "outside_resets": r.outside_resets,
             # What the strategy itself counted (bench.counters), e.g. header waits it capped.
             "counters": dict(r.counters)}
    if r.harness is not None:  # the harness's own lag (bench.harness_lag), beside the metrics it may taint
        entry["harness"] = r.harness.to_dict()
    if r.processes:  # a --processes N run: each client process's own figures (bench.multiprocess)
        entry["processes"] = list(r.processes)
    return entry


class WriteError(OSError):
    """A run directory could not be written (disk full, permissions); what was on disk before is intact."""


class RunWriter:
    """Writes one run directory incrementally: call :meth:`add` per finished run, :meth:`finish` at the end."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta
        self.runs: list[dict[str, Any]] = []
        try:
            with (path / "requests.csv").open("w", newline="") as f:
                csv.writer(f).writerow(CSV_FIELDS)
            with (path / "arrivals.csv").open("w", newline="") as f:
                csv.writer(f).writerow(ARRIVAL_FIELDS)
            self._write_json(complete=False)
        except OSError as e:
            raise WriteError(e.errno, f"cannot write {path}: {e.strerror or e}") from None

    def add(self, r: RunResult) -> None:
        """Append one run; on :class:`WriteError` the CSVs are cut back and results.json is as before."""
        entry = run_entry(r)
        marks = {name: (self.path / name).stat().st_size for name in ("requests.csv", "arrivals.csv")}
        try:
            with (self.path / "requests.csv").open("a", newline="") as f:
                w = csv.writer(f)
                for a in r.attempts:
                    w.writerow(csv_row(r.strategy, r.repeat, a, r.tag))
            with (self.path / "arrivals.csv").open("a", newline="") as f:
                w = csv.writer(f)
                for v in r.arrivals:
                    w.writerow([r.strategy, r.repeat, v.request_id, repr(v.t), v.status, v.key, v.in_flight,
                                v.t_ns, v.cost])
            self._write_json(complete=False, runs=[*self.runs, entry])
        except OSError as e:
            for name, size in marks.items():  # no half-written rows of a run results.json does not list
                with contextlib.suppress(OSError), (self.path / name).open("r+b") as f:
                    f.truncate(size)
            raise WriteError(e.errno, f"cannot write {self.path}: {e.strerror or e}") from None
        self.runs.append(entry)

    def finish(self) -> None:
        try:
            self._write_json(complete=True)
            (self.path / INCOMPLETE).unlink(missing_ok=True)
        except OSError as e:
            raise WriteError(e.errno, f"cannot write {self.path}: {e.strerror or e}") from None

    def _write_json(self, *, complete: bool, runs: list[dict[str, Any]] | None = None) -> None:
        doc = {"schema_version": SCHEMA_VERSION, "complete": complete, "meta": self.meta,
               "runs": self.runs if runs is None else runs}
        write_atomic(self.path / "results.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once, or leave it as it was (and no temporary file) on error."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # a full disk shows here, not later as an empty results.json
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def csv_row(strategy: str, repeat: int, a: Attempt, tag: str = "") -> list[object]:
    # repr() round-trips floats exactly, and arrival_ns is the server's integer time, so requests.csv
    # recomputes every metric to the last digit.
    return [strategy, repeat, a.job, a.attempt, repr(a.intended_s), repr(a.sent_s),
            "" if a.arrival_s is None else repr(a.arrival_s), repr(a.done_s), a.status,
            "" if a.arrival_ns is None else a.arrival_ns, request_id(a.job, a.attempt, tag)]


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


class BadRunFile(ValueError):
    """A run directory's file is malformed, truncated or hand-edited beyond use; the message says where."""


def _complete_lines(path: Path) -> None:
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            raise BadRunFile(f"{path}: empty (no header)")
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b"\n":
            raise BadRunFile(f"{path}: truncated (the last line is cut off)")


def read_arrivals(path: Path) -> dict[tuple[str, int], list[Arrival]]:
    """``arrivals.csv`` back into the server's log, grouped by (strategy, repeat).

    Raises :class:`BadRunFile` naming the line when the file is truncated or a row is malformed.
    """
    _complete_lines(path)
    out: dict[tuple[str, int], list[Arrival]] = {}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        header = tuple(reader.fieldnames or ())
        # Older runs: without the cost column (every arrival cost 1), and before that without t_ns
        # (float seconds, rounded to the ns once).
        if header not in (ARRIVAL_FIELDS, ARRIVAL_FIELDS[:-1], ARRIVAL_FIELDS[:-2]):
            raise BadRunFile(f"{path}: header is {reader.fieldnames!r}, not {list(ARRIVAL_FIELDS)!r}")
        for row in reader:
            try:
                if None in row or any(row[k] is None for k in header):
                    raise ValueError("wrong number of fields")
                t_ns = int(row["t_ns"]) if "t_ns" in row else from_seconds(float(row["t"]))
                a = Arrival(row["request_id"], t_ns, int(row["status"]), row["key"], int(row["in_flight"]),
                            int(row["cost"]) if "cost" in row else 1)
                out.setdefault((row["strategy"], int(row["repeat"])), []).append(a)
            except ValueError as e:
                raise BadRunFile(f"{path}, line {reader.line_num}: malformed row ({e})") from None
    return out


def check_arrivals(doc: dict[str, Any], logs: dict[tuple[str, int], list[Arrival]], path: Path) -> None:
    """Every run that says how many arrivals it logged has exactly that many in ``logs``."""
    for r in doc["runs"]:
        n = r.get("arrivals")
        if isinstance(n, int):
            have = len(logs.get((r["strategy"], r["repeat"]), ()))
            if have != n:
                raise BadRunFile(f"{path}: {r['strategy']!r} repeat {r['repeat']} has {have} of its {n} "
                                 "arrivals (truncated or edited)")


@functools.cache
def _statuses() -> tuple[str, ...]:
    """A run's possible statuses, as the shipped results.schema.json (bench.schema) lists them.

    >>> _statuses()
    ('ok', 'timeout', 'failed', 'interrupted', 'skipped')
    """
    from bench import schema

    return tuple(schema.load("results")["$defs"]["run"]["properties"]["status"]["enum"])


def _check_doc(doc: dict[str, Any], p: Path) -> None:
    """The fields the report reads, with the types it needs; a message naming the first one that is not."""
    if not isinstance(doc["meta"], dict):
        raise BadRunFile(f"{p}: 'meta' must be an object")
    for key, kinds in (("scenario", dict), ("resolved", dict), ("clock", str), ("transport", str), ("repeat", int)):
        if not isinstance(doc["meta"].get(key), kinds):
            raise BadRunFile(f"{p}: meta.{key} missing or of the wrong type")
    statuses = _statuses()
    if not isinstance(doc["runs"], list):
        raise BadRunFile(f"{p}: 'runs' must be a list")
    for i, r in enumerate(doc["runs"]):
        where = f"{p}: runs[{i}]"
        if not isinstance(r, dict):
            raise BadRunFile(f"{where}: must be an object")
        for key, kinds in (("strategy", str), ("repeat", int), ("status", str), ("metrics", dict)):
            v = r.get(key)
            if not isinstance(v, kinds) or isinstance(v, bool):
                raise BadRunFile(f"{where}.{key}: missing or of the wrong type ({v!r})")
        if r["status"] not in statuses:  # the shipped schema's list: a status the report cannot place
            raise BadRunFile(f"{where}.status: {r['status']!r} is not one of {', '.join(statuses)}")
        if r.get("error") is not None and not isinstance(r["error"], str):
            raise BadRunFile(f"{where}.error: must be a string or null")
        if (why := counters.check(r, where)) is not None:
            raise BadRunFile(why)
        for name, v in r["metrics"].items():
            # A verdict (true/false) is a metric too, for the metrics a newer version may add.
            ok = v is None or isinstance(v, int | float) or (
                isinstance(v, list) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v))
            if not ok:
                raise BadRunFile(f"{where}.metrics.{name}: must be a number, true/false, a list of numbers or "
                                 f"null, got {v!r}")
    keys = [set(r["metrics"]) for r in doc["runs"]]
    if keys and any(k != keys[0] for k in keys):
        raise BadRunFile(f"{p}: runs do not all have the same metrics (hand-edited?)")


def _non_finite(v: object, path: str = "") -> tuple[str, float] | None:
    """The path and value of the first NaN or infinite number in a loaded JSON value, else ``None``.

    >>> _non_finite({"runs": [{"metrics": {"burst_ratio": float("nan")}}]})
    ('runs[0].metrics.burst_ratio', nan)
    """
    if isinstance(v, float) and not math.isfinite(v):
        return path, v
    if isinstance(v, dict):
        for k, x in v.items():
            if (hit := _non_finite(x, f"{path}.{k}" if path else str(k))) is not None:
                return hit
    elif isinstance(v, list):
        for i, x in enumerate(v):
            if (hit := _non_finite(x, f"{path}[{i}]")) is not None:
                return hit
    return None


def load(run_dir: Path) -> dict[str, Any]:
    """``results.json`` of a run directory, checked: ``ValueError`` (:class:`BadRunFile`) names what is wrong."""
    p = Path(run_dir) / "results.json"
    if not p.exists():
        raise FileNotFoundError(f"{run_dir}: no results.json (not a run directory)")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRunFile(f"{p}: cannot read it: {e}") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
        version = doc.get("schema_version") if isinstance(doc, dict) else None
        raise BadRunFile(f"{p}: schema_version {version!r} is not {SCHEMA_VERSION}")
    for key in ("meta", "runs"):
        if key not in doc:
            raise BadRunFile(f"{p}: no {key!r} (not a ratebench results file)")
    # Python's json reads NaN, Infinity and 1e999 (JSON has no such numbers); a figure that is not finite was
    # never measured, and would break every consumer that writes strict JSON (check --json).
    where = _non_finite(doc)
    if where is not None:
        raise BadRunFile(f"{p}: {where[0]}: {where[1]} is not a finite number (hand-edited?)")
    _check_doc(doc, p)
    result: dict[str, Any] = doc
    return result
