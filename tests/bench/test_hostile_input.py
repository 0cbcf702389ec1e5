"""Hostile but fair input to the harness: each case named, exit 2 or a row of its own, nothing lost."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from bench import results, scenarios
from bench.cli import main
from bench.records import Arrival
from tests.bench.test_cli import SCENARIO, run_dirs

HOSTILE = "tests.bench.hostile_strategies"


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(SCENARIO)
    return p


def run(tmp_path: Path, scenario_file: Path, strategies: str) -> int:
    return main(["run", "--scenario", str(scenario_file), "--strategies", strategies, "--clock", "virtual",
                 "--out", str(tmp_path / "o")])


@pytest.mark.parametrize("window", [1e-9, 1e-10, 0.0005])
def test_a_window_below_the_harness_resolution_is_refused(window: float) -> None:
    data = {"server": {"quota": [{"limit": 3, "window_s": window}]}, "workload": {"jobs": 5}}
    message = r"server\.quota\[0\]\.window_s: must be (>= 0\.001|at least 1 µs)"
    with pytest.raises(scenarios.ScenarioError, match=message):
        scenarios.from_dict(data, "w")
    declared = {"server": {}, "declared": {"quota": [{"limit": 3, "window_s": window}]}, "workload": {"jobs": 5}}
    with pytest.raises(scenarios.ScenarioError, match=r"declared\.quota\[0\]\.window_s"):
        scenarios.from_dict(declared, "w")


@pytest.mark.parametrize(("spec", "message"), [
    ("unlimited,unlimited", "'unlimited' is listed twice"),
    (f"aiolimiter,{HOSTILE}:FakeAiolimiter", "both named 'aiolimiter'"),
    (f"{HOSTILE}:FakeAiolimiter", "like the built-in"),
    (f"{HOSTILE}:NumberName", "'name' must be a non-empty string, got 42"),
])
def test_strategies_that_would_merge_into_one_row_exit_2(tmp_path: Path, scenario_file: Path, spec: str,
                                                         message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, scenario_file, spec) == 2
    assert message in capsys.readouterr().err
    assert run_dirs(tmp_path / "o") == []


def test_hanging_exiting_and_misconfigured_strategies_are_rows_and_the_benchmark_goes_on(
        tmp_path: Path, scenario_file: Path) -> None:
    spec = ",".join(f"{HOSTILE}:{c}" for c in ("Exiter", "BadLimits", "Forger", "Swallower")) + ",token-bucket"
    assert run(tmp_path, scenario_file, spec) == 3  # finished, but strategies failed (bench.exitcodes)
    (run_dir,) = run_dirs(tmp_path / "o")
    doc = results.load(run_dir)
    assert [(r["strategy"], r["status"]) for r in doc["runs"]] == [
        ("exiter", "failed"), ("bad-limits", "failed"), ("forger", "failed"), ("swallower", "timeout"),
        ("token-bucket", "ok")]
    assert doc["complete"] is True


def test_a_full_disk_keeps_what_was_written_and_leaves_no_temporary_file(
        tmp_path: Path, scenario_file: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    real = results.write_atomic
    calls = 0

    def filling(path: Path, text: str) -> None:
        nonlocal calls
        calls += 1
        if calls >= 3 and path.name == "results.json":  # header, first run fine; then the disk is full
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text[:10])
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            finally:
                tmp.unlink()  # as write_atomic does; asserted below for the real one
        real(path, text)

    monkeypatch.setattr(results, "write_atomic", filling)
    assert run(tmp_path, scenario_file, "unlimited,token-bucket") == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    (run_dir,) = run_dirs(tmp_path / "o")
    assert not (run_dir / "results.json.tmp").exists()
    doc = results.load(run_dir)
    assert [r["strategy"] for r in doc["runs"]] == ["unlimited"] and doc["complete"] is False
    # requests.csv was cut back to the runs results.json lists.
    assert set(results.read_requests(run_dir / "requests.csv")) == {("unlimited", 0)}


def test_write_atomic_removes_its_temporary_file_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "results.json"
    target.write_text("before")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        results.write_atomic(target, "after")
    assert target.read_text() == "before" and not (tmp_path / "results.json.tmp").exists()


@pytest.fixture
def run_dir(tmp_path: Path, scenario_file: Path) -> Path:
    assert run(tmp_path, scenario_file, "unlimited,token-bucket") == 0
    (d,) = run_dirs(tmp_path / "o")
    return d


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["runs"][0].pop("metrics"), "runs[0].metrics"),
    (lambda d: d["runs"][1].update(status=None), "runs[1].status"),
    (lambda d: d["runs"][0]["metrics"].update(throughput_rps="fast"), "metrics.throughput_rps"),
    (lambda d: d.update(runs={"a": 1}), "'runs' must be a list"),
    (lambda d: d["meta"].pop("clock"), "meta.clock"),
    (lambda d: d["meta"]["resolved"]["server"].pop("quota"), "not a usable ratebench run"),
])
def test_report_on_a_hand_edited_results_json_exits_2(run_dir: Path, edit, message: str,  # type: ignore[no-untyped-def]
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    p = run_dir / "results.json"
    doc = json.loads(p.read_text())
    edit(doc)
    p.write_text(json.dumps(doc))
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_report_on_a_partial_results_json_exits_2(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = run_dir / "results.json"
    p.write_text(p.read_text()[:300])
    assert main(["report", str(run_dir)]) == 2
    assert "cannot read it" in capsys.readouterr().err


@pytest.mark.parametrize("cut", ["mid-line", "whole-lines"])
def test_a_truncated_arrivals_csv_is_not_drawn(run_dir: Path, cut: str, capsys: pytest.CaptureFixture[str]) -> None:
    p = run_dir / "arrivals.csv"
    text = p.read_text()
    if cut == "mid-line":
        p.write_text(text[: len(text) - 7])
    else:
        lines = text.splitlines(keepends=True)
        p.write_text("".join(lines[:-3]))
    for chart in (run_dir / "charts").iterdir():
        chart.unlink()
    assert main(["report", str(run_dir)]) == 0  # the table is whole: results.json is intact
    err = capsys.readouterr().err
    assert "charts withheld" in err and ("truncated" in err)
    assert not any((run_dir / "charts").iterdir())
    assert "charts/" not in (run_dir / "report.md").read_text()


@pytest.mark.realserver
@pytest.mark.usefixtures("abandoned_runs_settle")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_real_mode_a_blocked_strategy_is_abandoned_and_the_next_gets_a_fresh_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import watchdog
    from tests.bench import hostile_strategies

    monkeypatch.setattr(watchdog, "LIMITS", watchdog.Limits(grace_s=0.5, join_s=0.5))
    monkeypatch.setattr(hostile_strategies.Sleeper, "seconds", 4.0)
    quick = tmp_path / "quick.toml"
    quick.write_text(SCENARIO.replace("timeout_s = 30", "timeout_s = 2").replace("jobs = 12", "jobs = 3"))
    assert main(["run", "--scenario", str(quick), "--strategies", f"{HOSTILE}:Sleeper,token-bucket",
                 "--out", str(tmp_path / "o")]) == 3  # the Sleeper timed out
    (run_dir,) = run_dirs(tmp_path / "o")
    doc = results.load(run_dir)
    assert [(r["strategy"], r["status"]) for r in doc["runs"]] == [("sleeper", "timeout"), ("token-bucket", "ok")]
    assert "abandoned" in doc["runs"][0]["error"]
    logs = results.read_arrivals(run_dir / "arrivals.csv")
    # Over a socket the ids carry the run's random tag: "j<job>.<attempt>.<tag>".
    def ids(log: list[Arrival]) -> list[str]:
        return sorted(".".join(a.request_id.split(".")[:2]) for a in log)

    assert ids(logs[("sleeper", 0)]) == ["j0.1"]
    assert ids(logs[("token-bucket", 0)]) == sorted(f"j{i}.1" for i in range(3))
