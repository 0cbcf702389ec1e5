import json
from pathlib import Path
from typing import Any

import pytest

from bench import plots, sweep
from bench.cli import main


def _run(row: str, throttled: int, efficiency: float | None) -> dict[str, object]:
    return {"strategy": row, "metrics": {"throttled": throttled, "efficiency": efficiency}}

def test_sweeps_take_the_median_of_repeats_and_split_other_parameters() -> None:
    conf = {f"b[x={x},y={y}]": {"strategy": "b", "values": {"x": x, "y": y}} for x in (1, 5) for y in ("a", "b")}
    runs = [_run("b[x=1,y=a]", 4, None), _run("b[x=1,y=a]", 2, 0.5), _run("b[x=1,y=a]", 9, 0.7),
            _run("b[x=5,y=a]", 0, 0.9), _run("b[x=1,y=b]", 1, 0.2), _run("b[x=5,y=b]", 3, None),
            _run("unlimited", 99, 1.0)]
    (s,) = sweep.sweeps({"meta": {"params": conf}, "runs": runs})  # y is not numeric: no sweep over y
    assert (s.strategy, s.param) == ("b", "x")
    # x=1,y=a: 429s median of 4, 2, 9 = 4; efficiency median of the runs that have one, 0.5 and 0.7 = 0.6.
    assert s.lines == {"y=a": [(1.0, 4.0, 0.6), (5.0, 0.0, 0.9)], "y=b": [(1.0, 1.0, 0.2), (5.0, 3.0, None)]}
    assert s.filename == "charts/sweep-b-x.png"

def test_no_sweep_without_two_values() -> None:
    conf = {"b[x=1]": {"strategy": "b", "values": {"x": 1}}}
    assert sweep.sweeps({"meta": {"params": conf}, "runs": [_run("b[x=1]", 0, 1.0)]}) == []
    assert sweep.sweeps({"meta": {}, "runs": []}) == []

def test_param_sweep_chart_draws_what_it_is_given(tmp_path: Path) -> None:
    chart = plots.param_sweep(tmp_path / "s.png", "p", "b", {"": [(0.0, 12.0, None), (10.0, 0.0, 0.9)]}, "t")
    assert chart.path.exists()
    assert chart.series["p 429s"] == ((0.0, 10.0), (12.0, 0.0))
    assert chart.series["p efficiency"] == ((10.0,), (0.9,))  # the withheld one is not on the line

def test_pyrate_buffer_sweep_in_virtual_time(tmp_path: Path) -> None:
    """Issue 11: pyrate's buffer_ms over 0, 10, 25, 50 against 429s and efficiency (default scenario, virtual
    time with the shipped network/timer profile)."""
    out = tmp_path / "r"
    assert main(["run", "--clock", "virtual", "--strategies", "pyrate-memory", "--out", str(out),
                 "--param", "pyrate-memory.buffer_ms=0,10,25,50"]) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    doc = json.loads((run_dir / "results.json").read_text())
    by = {r["strategy"]: r["metrics"] for r in doc["runs"]}
    assert list(by) == [f"pyrate-memory[buffer_ms={b}]" for b in (0, 10, 25, 50)]
    throttled = [by[f"pyrate-memory[buffer_ms={b}]"]["throttled"] for b in (0, 10, 25, 50)]
    # The margin absorbs the send-to-arrival spread: fewer 429s as it grows, none at pyrate's own default.
    assert throttled == sorted(throttled, reverse=True) and throttled[0] > 0 and throttled[-1] == 0
    assert by["pyrate-memory[buffer_ms=50]"]["efficiency"] is not None
    (s,) = sweep.sweeps(doc)
    assert [p[0] for p in s.lines[""]] == [0.0, 10.0, 25.0, 50.0]
    assert (run_dir / s.filename).exists() and s.filename in (run_dir / "report.md").read_text()


def test_the_sweep_charts_429_axis_has_whole_number_ticks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figs: list[Any] = []
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path, drawn: (figs.append(fig), save(fig, path, drawn))[1])
    plots.param_sweep(tmp_path / "s.png", "p", "b", {"": [(0.0, 1.0, None), (10.0, 0.0, 0.9)]}, "t")
    ticks = figs[0].axes[0].get_yticks()
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
