"""The paced-accuracy checker on hand-made results: rows, ratios and the exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import pacing, results


def run_dir(parent: Path, name: str, rate: float | None, achieved: list[float], release_p99: float = 1.0) -> Path:
    d = parent / name
    d.mkdir()
    runs: list[dict[str, Any]] = [
        {"strategy": "unlimited", "repeat": k, "status": "ok", "error": None, "wall_s": 1.0,
         "metrics": {"throughput_rps": a},
         "harness": {"release_lag": {"count": 10, "p50_ms": 0.5, "p99_ms": release_p99 + k, "max_ms": 9.0},
                     "send_lag": {"count": 10, "p50_ms": 0.1, "p99_ms": 0.2, "max_ms": 0.3}, "transit": None,
                     "transit_judged": True, "bound_ms": 5.0, "harness_limited": False}}
        for k, a in enumerate(achieved)]
    meta = {"transport": "http+aiohttp", "platform": "Linux-x", "cpus": 2, "python": "3.11.7", "clock": "real",
            "repeat": len(achieved), "scenario": {"name": name},
            "resolved": {"workload": {"jobs": 10, "release": "rate" if rate else "batch", "rate": rate}}}
    doc = {"schema_version": results.SCHEMA_VERSION, "complete": True, "meta": meta, "runs": runs}
    (d / "results.json").write_text(json.dumps(doc))
    return d


def test_rows_by_rate_with_worst_ratio_and_lag_ranges(tmp_path: Path) -> None:
    run_dir(tmp_path, "a", 500, [500.5, 499.0, 500.0])
    run_dir(tmp_path, "b", 100, [100.1])
    run_dir(tmp_path, "c", None, [3000.0])  # a batch run: not paced, skipped
    rows = pacing.collect([tmp_path])
    assert [r.target for r in rows] == [100.0, 500.0]
    five = rows[1]
    assert five.achieved == (500.5, 499.0, 500.0)
    assert five.worst_ratio == pytest.approx(499.0 / 500.0)  # 0.998
    assert five.release_p99_ms == (1.0, 2.0, 3.0) and five.failures == ()
    table = pacing.markdown(rows)
    assert "| 500/s | 500.5, 499.0, 500.0 | 0.998 | 0.50 ms | 1.00–3.00 ms | 0.20 ms | – | http+aiohttp |" in table
    assert table.endswith("Machine: Linux-x, 2 CPUs, Python 3.11.7")


def test_a_rate_below_99_percent_exits_1_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir(tmp_path, "a", 2000, [1995.0, 1979.0, 2000.1])  # 1979 < 0.99 × 2000 = 1980
    assert pacing.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "2000/s repeat 1: achieved 1979.0/s < 99% of 2000/s" in err
    assert pacing.main([str(tmp_path), "--min-ratio", "0.98"]) == 0


def test_bad_input_exits_2(tmp_path: Path) -> None:
    assert pacing.main([str(tmp_path / "missing")]) == 2
    assert pacing.main([str(tmp_path)]) == 2  # no run directory in it
    run_dir(tmp_path, "c", None, [10.0])
    assert pacing.main([str(tmp_path)]) == 2  # none paced
    assert pacing.main([str(tmp_path), "--min-ratio", "1.5"]) == 2
