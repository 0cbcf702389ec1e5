"""Run-directory CSVs keep server times as exact integer ns, and still read runs written before that."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import results
from bench.records import Arrival, Attempt


def test_exact_columns_round_trip(tmp_path: Path) -> None:
    a = Attempt(3, 1, 0.0, 0.1, 0.140000001, 0.15, 200, arrival_ns=140_000_001)
    p = tmp_path / "requests.csv"
    p.write_text(",".join(results.CSV_FIELDS) + "\n" + ",".join(map(str, results.csv_row("s", 0, a))) + "\n")
    assert results.read_requests(p) == {("s", 0): [a]}


def test_runs_written_before_the_integer_columns_still_load(tmp_path: Path) -> None:
    req = tmp_path / "requests.csv"
    req.write_text("strategy,repeat,job,attempt,intended_s,sent_s,arrival_s,done_s,status\n"
                   "s,0,0,1,0.0,0.0,1.14,1.2,200\n")
    (got,) = results.read_requests(req)[("s", 0)]
    assert (got.arrival_s, got.arrival_ns) == (1.14, None)
    arr = tmp_path / "arrivals.csv"
    arr.write_text("strategy,repeat,request_id,t,status,key,in_flight\ns,0,0.1,1.14,200,,1\n")
    # The float seconds are rounded to the nearest ns once, as every other conversion does.
    assert results.read_arrivals(arr) == {("s", 0): [Arrival("0.1", 1_140_000_000, 200, "", 1)]}


def test_arrival_costs_round_trip_and_old_runs_cost_one(tmp_path: Path) -> None:
    arr = tmp_path / "arrivals.csv"
    arr.write_text("strategy,repeat,request_id,t,status,key,in_flight,t_ns,cost\n"
                   "s,0,0.1,1.14,200,,1,1140000000,427\n")
    assert results.read_arrivals(arr) == {("s", 0): [Arrival("0.1", 1_140_000_000, 200, "", 1, 427)]}
    arr.write_text("strategy,repeat,request_id,t,status,key,in_flight,t_ns\ns,0,0.1,1.14,200,,1,1140000000\n")
    assert results.read_arrivals(arr)[("s", 0)][0].cost == 1


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_results_file_with_a_non_finite_number_is_refused_naming_the_field(tmp_path: Path, number: str) -> None:
    # Python's json reads all four; a strict writer (check --json) then crashes on them.
    doc = {"schema_version": results.SCHEMA_VERSION, "complete": True,
           "meta": {"clock": "virtual", "transport": "asgi", "repeat": 1, "scenario": {"name": "s"}},
           "runs": [{"strategy": "x", "repeat": 0, "status": "ok", "error": None,
                     "metrics": {"throttled": 0, "burst_ratio": "@"}}]}
    (tmp_path / "results.json").write_text(json.dumps(doc).replace('"@"', number))
    with pytest.raises(results.BadRunFile, match=r"runs\[0\]\.metrics\.burst_ratio: .* is not a finite number"):
        results.load(tmp_path)


@pytest.mark.parametrize(("edit", "named"), [
    (lambda d: d["runs"][0].update(status="great"), "runs[0].status: 'great' is not one of ok, timeout"),
    (lambda d: d["meta"].pop("resolved"), "meta.resolved missing or of the wrong type"),
])
def test_report_refuses_a_results_file_the_shipped_schema_rejects(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, named: str) -> None:
    from bench.cli import main
    from tests.bench.runfiles import paced, write_run

    run = write_run(tmp_path, "s", [(5, 1.0)], {"a": paced(5, 5.0), "b": paced(5, 5.0)})
    doc = json.loads((run / "results.json").read_text())
    edit(doc)
    (run / "results.json").write_text(json.dumps(doc))
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert named in err and err.count(named) == 1
