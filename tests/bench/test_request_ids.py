"""Request ids join requests.csv to arrivals.csv in any reader: with the csv module (strings) and with the type
inference pandas applies to a CSV column (all ints → int64, else all numbers → float64, else strings).

The inference is emulated here rather than by installing pandas (numpy + pandas, ~60 MB, for one test) or duckdb:
:func:`infer` follows pandas' documented rule for ``read_csv`` without ``dtype``, NA strings included, and the
first test shows it reproduces the original bug (``1.10`` and ``1.1`` read as the same float)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from bench import request_ids
from bench.cli import main
from strategies.base import Jobs, Send, Strategy

ATTEMPTS = 12

#: pandas.read_csv's default NA strings (pandas.io.parsers: STR_NA_VALUES), read as missing values.
NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
      "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
INT = re.compile(r"[+-]?\d+")
FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|Inf|INF|infinity|Infinity)")


def infer(column: list[str]) -> list[object]:
    """A CSV column as pandas types it: int if every present value is an integer, else float if every present
    value is a number (NA → nan), else the strings as they are (NA → None)."""
    present = [v for v in column if v not in NA]
    if present and all(INT.fullmatch(v) for v in present) and len(present) == len(column):
        return [int(v) for v in column]
    if present and all(FLOAT.fullmatch(v) for v in present):
        return [float("nan") if v in NA else float(v) for v in column]
    return [None if v in NA else v for v in column]


def read(path: Path, typed: bool) -> list[dict[str, object]]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not typed:
        return list(rows)
    cols = {k: infer([r[k] for r in rows]) for k in rows[0]}
    return [{k: cols[k][i] for k in cols} for i in range(len(rows))]


class Twelve(Strategy):
    """Every job sent ``ATTEMPTS`` times, one after another (a retrying client's worst case, without the waits)."""

    name = "twelve"

    async def run(self, jobs: Jobs, send: Send) -> None:
        async for job in jobs:
            for _ in range(ATTEMPTS):
                await send(job)


SCENARIO = """
name = "twelve"
[server]
latency_ms = 1
[[server.quota]]
limit = 1000
window_s = 1.0
[workload]
jobs = 3
"""


def test_the_inference_reproduces_the_collision_the_old_ids_had() -> None:
    assert infer(["0.1", "1.1", "1.10"]) == [0.1, 1.1, 1.1]  # job 1's 1st and 10th attempt: one key
    assert infer([request_ids.request_id(1, 1), request_ids.request_id(1, 10)]) == ["j1.1", "j1.10"]


def test_requests_and_arrivals_join_on_request_id_without_loss(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(SCENARIO)
    run_dir = tmp_path / "run"
    assert main(["run", "--scenario", str(tmp_path / "s.toml"), "--strategies", f"{__name__}:Twelve",
                 "--clock", "virtual", "--run-dir", str(run_dir)]) == 0
    n = 3 * ATTEMPTS
    for typed in (False, True):
        requests = read(run_dir / "requests.csv", typed)
        arrivals = read(run_dir / "arrivals.csv", typed)
        assert len(requests) == len(arrivals) == n
        ids = [r["request_id"] for r in requests]
        assert all(isinstance(i, str) for i in ids) and len(set(ids)) == n, ids
        by_id = {a["request_id"]: a for a in arrivals}
        assert len(by_id) == n  # no two arrivals share a key
        joined = [(r, by_id[r["request_id"]]) for r in requests]
        # The same attempt on both sides: the server's time is the client's recorded arrival time.
        assert all(str(r["arrival_ns"]) == str(a["t_ns"]) for r, a in joined)
        assert sorted((int(str(r["job"])), int(str(r["attempt"]))) for r, _ in joined) == [
            (j, k) for j in range(3) for k in range(1, ATTEMPTS + 1)]
        assert all(request_ids.parse(str(r["request_id"])) == (int(str(r["job"])), int(str(r["attempt"])))
                   for r in requests)
