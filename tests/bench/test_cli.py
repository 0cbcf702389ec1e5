"""The command line: runs land in new directories, requests.csv recomputes the metrics, bad input exits 2."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bench import compliance, metrics, results, scenarios
from bench.cli import main
from bench.records import Arrival
from strategies.base import Tier

SCENARIO = """
name = "tiny"
description = "3 per second, 12 jobs at once"
[server]
latency_ms = 5
[[server.quota]]
limit = 3
window_s = 1.0
[workload]
jobs = 12
[client]
concurrency = 4
timeout_s = 30
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(SCENARIO)
    return p


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir()) if out.exists() else []


def test_run_writes_a_complete_directory(tmp_path: Path, scenario_file: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    args = ["run", "--scenario", str(scenario_file), "--strategies", "unlimited,token-bucket,aiolimiter",
            "--clock", "virtual", "--repeat", "2", "--out", str(out)]
    assert main(args) == 0
    (run_dir,) = run_dirs(out)
    assert {p.name for p in run_dir.iterdir()} == {"results.json", "requests.csv", "arrivals.csv", "report.md",
                                                       "report.html", "charts"}
    assert (run_dir / "charts" / "burst.png").stat().st_size > 1000
    assert (run_dir / "charts" / "latency_cdf.png").stat().st_size > 1000
    doc = results.load(run_dir)
    assert doc["complete"] is True and doc["schema_version"] == results.SCHEMA_VERSION
    assert doc["meta"]["clock"] == "virtual" and doc["meta"]["scenario"]["workload"]["jobs"] == 12
    assert doc["meta"]["packages"]["httpx"]
    # Interleaved: every strategy's repeat 0, then every strategy's repeat 1 (a slow spell hits several).
    assert [(r["strategy"], r["repeat"]) for r in doc["runs"]] == [
        ("unlimited", 0), ("token-bucket", 0), ("aiolimiter", 0), ("unlimited", 1), ("token-bucket", 1),
        ("aiolimiter", 1)]
    table = capsys.readouterr().out
    assert table.index("token-bucket") < table.index("unlimited")  # the compliant one ranks first
    assert "| 1 | token-bucket | ok |" in (run_dir / "report.md").read_text()
    assert "<td>token-bucket</td>" in (run_dir / "report.html").read_text()

    # A second invocation never touches the first directory.
    before = (run_dir / "results.json").read_bytes()
    assert main(args) == 0
    assert len(run_dirs(out)) == 2 and (run_dir / "results.json").read_bytes() == before


def test_requests_csv_recomputes_every_count_and_percentile(tmp_path: Path, scenario_file: Path) -> None:
    out = tmp_path / "r"
    assert main(["run", "--scenario", str(scenario_file), "--strategies", "unlimited,aiolimiter,token-bucket",
                 "--clock", "virtual", "--out", str(out)]) == 0
    (run_dir,) = run_dirs(out)
    doc = json.loads((run_dir / "results.json").read_text())
    rows = results.read_requests(run_dir / "requests.csv")
    logs = results.read_arrivals(run_dir / "arrivals.csv")
    for run in doc["runs"]:
        key = (run["strategy"], run["repeat"])
        attempts = rows[key]
        # requests.csv alone: every arrival joined to its attempt carries the server's exact time (integer
        # ns, arrival_ns; arrival_s is the same for reading) and status.
        from_requests = [Arrival(f"{a.job}.{a.attempt}", a.arrival_ns, a.status) for a in attempts
                         if a.arrival_ns is not None]
        assert all(a.arrival_s == a.arrival_ns / 1e9 for a in attempts if a.arrival_ns is not None)
        reported = run["metrics"]
        # The replay (policy_rejected) of a sliding-log quota does not depend on where run start sat.
        again = metrics.compute(attempts, from_requests, [Tier(3, 1.0)], requests=12, cpu_s=None,
                                oracle_makespan_s=None,
                                judge=compliance.judge(scenarios.load(str(scenario_file)).server)).to_dict()
        # peak_concurrency needs the server's in-flight counts (arrivals.csv); efficiency the oracle and
        # cpu_s_per_1k the process CPU time, window_phase_s the run's start on the server's clock:
        # none is a count or percentile of the attempts.
        for name in ("peak_concurrency", "efficiency", "cpu_s_per_1k", "window_phase_s"):
            again.pop(name)
        for name, value in again.items():
            assert reported[name] == value, (run["strategy"], name)
        assert reported["peak_concurrency"] == metrics.peak_concurrency(logs[key])
        assert sorted(a.t_ns for a in logs[key]) == sorted(a.t_ns for a in from_requests)


def test_withheld_efficiency_is_null_in_results_with_its_reason_in_the_report(tmp_path: Path) -> None:
    # 3 jobs, 3 per second, no latency: the oracle sends all at t=0 and is done at 0 s.
    p = tmp_path / "zero.toml"
    p.write_text(SCENARIO.replace("latency_ms = 5", "latency_ms = 0").replace("jobs = 12", "jobs = 3"))
    out = tmp_path / "r"
    assert main(["run", "--scenario", str(p), "--strategies", "token-bucket", "--clock", "virtual",
                 "--out", str(out)]) == 0
    (run_dir,) = run_dirs(out)
    (run,) = json.loads((run_dir / "results.json").read_text())["runs"]
    assert run["status"] == "ok" and run["metrics"]["completion"] == 1.0
    assert run["metrics"]["efficiency"] is None and run["error"] == metrics.ZERO_ORACLE_NOTE
    assert metrics.ZERO_ORACLE_NOTE in (run_dir / "report.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--strategies", "unlimited,warp-drive"], "unknown strategy 'warp-drive'"),
        (["run", "--scenario", "nope"], "unknown scenario 'nope'"),
        (["run", "--strategies", "nosuchmodule:Thing"], "cannot load strategy 'nosuchmodule:Thing'"),
        (["run", "--strategies", ":"], "cannot load strategy ':': ValueError"),  # was a traceback, exit 1
        (["run", "--strategies", ".x:Y"], "cannot load strategy '.x:Y': TypeError"),
        (["run", "--strategies", "unlimited", "--repeat", "0"], "--repeat: must be >= 1"),
    ],
)
def test_bad_input_exits_2_naming_the_value_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    assert main([*args, "--clock", "virtual", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert run_dirs(out) == []


def test_malformed_scenario_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SCENARIO.replace("limit = 3", "limit = 'three'"))
    assert main(["run", "--scenario", str(bad), "--clock", "virtual", "--out", str(tmp_path / "o")]) == 2
    assert "server.quota[0].limit" in capsys.readouterr().err


def test_interrupted_run_is_kept_and_marked(tmp_path: Path, scenario_file: Path) -> None:
    # A SIGINT (the user's Ctrl-C) during the second strategy: the first is kept whole, the second as
    # the partial run it was (three attempts), marked interrupted; today the second was thrown away.
    out = tmp_path / "o"
    assert main(["run", "--scenario", str(scenario_file), "--strategies",
                 "unlimited,tests.bench.hostile_strategies:SignalsSelf,token-bucket",
                 "--clock", "virtual", "--out", str(out)]) == 1
    (run_dir,) = run_dirs(out)
    assert (run_dir / results.INCOMPLETE).exists()
    doc = results.load(run_dir)
    assert doc["complete"] is False
    assert [(r["strategy"], r["status"]) for r in doc["runs"]] == [("unlimited", "ok"),
                                                                  ("signals-self", "interrupted")]
    assert doc["runs"][1]["metrics"]["attempts"] == 3
    assert len(results.read_requests(run_dir / "requests.csv")[("signals-self", 0)]) == 3
    assert "INCOMPLETE" in (run_dir / "report.md").read_text()


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"unlimited", "token-bucket", "aiolimiter"} <= {s["name"] for s in doc["strategies"]}
    assert "steady" in {s["name"] for s in doc["scenarios"]}
    # Each strategy's parameters, so --param can be found without reading the source.
    by = {s["name"]: s["params"] for s in doc["strategies"]}
    assert [(p["name"], p["default"]) for p in by["pyrate-memory-buffered"]] == [("buffer_ms", 50)]
    assert by["unlimited"] == []
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "params: buffer_ms=50" in text and "params: capacity=(from quota)" in text


def test_report_rebuilds_from_disk(tmp_path: Path, scenario_file: Path) -> None:
    out = tmp_path / "o"
    assert main(["run", "--scenario", str(scenario_file), "--strategies", "token-bucket", "--clock", "virtual",
                 "--out", str(out)]) == 0
    (run_dir,) = run_dirs(out)
    (run_dir / "report.md").unlink()
    assert main(["report", str(run_dir)]) == 0
    assert "token-bucket" in (run_dir / "report.md").read_text()
    assert main(["report", str(tmp_path)]) == 2


def test_out_that_is_a_file_exits_2(tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "taken"
    out.write_text("not a directory")
    assert main(["run", "--scenario", str(scenario_file), "--strategies", "unlimited", "--clock", "virtual",
                 "--out", str(out)]) == 2
    assert "--out" in capsys.readouterr().err and out.read_text() == "not a directory"


def test_report_on_a_foreign_results_json_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "results.json").write_text('{"schema_version": 1}')
    assert main(["report", str(tmp_path)]) == 2
    assert "not a ratebench results file" in capsys.readouterr().err


def _children(pid: int, needle: str) -> list[int]:
    import subprocess

    ps = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    return [int(f[0]) for f in (line.split(None, 2) for line in ps.splitlines())
            if len(f) == 3 and f[1] == str(pid) and needle in f[2]]


@pytest.mark.realserver
def test_sigterm_keeps_the_partial_run_and_stops_the_server(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    slow = tmp_path / "slow.toml"
    slow.write_text(SCENARIO.replace("jobs = 12", "jobs = 60"))  # 3 per second: ~20 s per strategy
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "--scenario", str(slow), "--strategies",
                             "token-bucket,aiolimiter", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # Wait (outside any event loop) for the mock server child to answer, then for the first run.
        deadline = time.monotonic() + 60
        server: list[int] = []
        while not server and time.monotonic() < deadline:
            server = _children(proc.pid, "mock_server")
            time.sleep(0.1)
        assert server, "the mock server never started"
        # The harness-ceiling line comes right before the first run; under load that can be seconds after the
        # server starts, so wait for it rather than for a fixed time from the server's start.
        assert proc.stderr is not None
        seen = []
        while not any("harness ceiling" in line for line in seen) and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
        assert any("harness ceiling" in line for line in seen), "".join(seen)
        time.sleep(2.0)  # the first run is under way (it takes ~20 s): a few sends and arrivals by now
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=60)
        err = "".join(seen) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "INCOMPLETE" in err
    (run_dir,) = run_dirs(out)
    assert (run_dir / results.INCOMPLETE).exists()
    doc = results.load(run_dir)
    assert doc["complete"] is False
    # The run in progress is kept as what it was: partial, marked, with the server's arrivals joined.
    (partial,) = doc["runs"]
    assert (partial["strategy"], partial["status"]) == ("token-bucket", "interrupted")
    assert partial["metrics"]["attempts"] >= 3 and partial["arrivals"] >= 3
    with pytest.raises(ProcessLookupError):  # the server child was stopped by its PID, not orphaned
        os.kill(server[0], 0)


def _wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the strategy never started"
        time.sleep(0.05)


def test_a_second_signal_exits_1_at_once_without_a_traceback(tmp_path: Path, scenario_file: Path) -> None:
    import os
    import signal
    import sys
    import time

    from tests.bench.hostile_strategies import READY_ENV

    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "--scenario", str(scenario_file), "--strategies",
                             "tests.bench.hostile_strategies:Sleeper", "--clock", "virtual", "--out",
                             str(tmp_path / "o")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, READY_ENV: str(ready)})
    try:
        _wait_for(ready, proc)
        proc.send_signal(signal.SIGINT)  # the loop is blocked: the watchdog waits join_s (2 s) for it
        time.sleep(0.5)
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - t < 1.5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    assert "second signal" in err and "Traceback" not in err


@pytest.mark.realserver
def test_the_mock_server_dies_with_a_sigkilled_runner(tmp_path: Path) -> None:
    import os
    import signal
    import sys
    import time

    slow = tmp_path / "slow.toml"
    slow.write_text(SCENARIO.replace("jobs = 12", "jobs = 60"))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "--scenario", str(slow), "--strategies",
                             "token-bucket", "--out", str(tmp_path / "o")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        server: list[int] = []
        while not server and time.monotonic() < deadline:
            server = _children(proc.pid, "mock_server")
            time.sleep(0.1)
        assert server, "the mock server never started"
        proc.send_signal(signal.SIGKILL)  # no handler, no finally: only the kernel can stop the child now
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(server[0], 0)
            except ProcessLookupError:
                break
            # A killed child that is not ours stays a zombie only until init reaps it.
            with open(f"/proc/{server[0]}/stat") as f:
                if f.read().split()[2] == "Z":
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("the mock server outlived its SIGKILLed runner")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the command's surface (issue 10): --json, --run-dir, exit 3, --version, did-you-mean, help ---------------------


def test_run_json_prints_the_summary_alone_on_stdout(tmp_path: Path, scenario_file: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "ci" / "run"
    assert main(["run", "--scenario", str(scenario_file), "--strategies", "token-bucket,unlimited", "--clock",
                 "virtual", "--run-dir", str(run_dir), "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)  # nothing else on stdout
    assert doc["run_dir"] == str(run_dir) and doc["complete"] is True and doc["exit_code"] == 0
    assert [r["strategy"] for r in doc["ranking"]] == ["token-bucket", "unlimited"]
    assert doc["ranking"][0]["compliant"] is True and doc["ranking"][1]["throttled"] > 0
    assert "token-bucket" in out.err  # the table went to stderr
    assert (run_dir / "results.json").exists() and not (run_dir / results.INCOMPLETE).exists()


def test_run_dir_is_never_reused(tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "keep.txt").write_text("mine")
    assert main(["run", "--scenario", str(scenario_file), "--strategies", "token-bucket", "--clock", "virtual",
                 "--run-dir", str(run_dir)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in run_dir.iterdir()] == ["keep.txt"]


def test_a_failed_strategy_exits_3_with_its_reason_in_the_table(tmp_path: Path, scenario_file: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--scenario", str(scenario_file), "--strategies",
                 "tests.bench.hostile_strategies:BadLimits,token-bucket", "--clock", "virtual",
                 "--out", str(tmp_path)])
    assert code == 3
    out = capsys.readouterr().out
    (row,) = [ln for ln in out.splitlines() if ln.split()[1:2] == ["bad-limits"]]
    assert row.endswith("‹ failed")
    reasons = out.split("failed runs:")[1]
    assert "bad-limits repeat 0: failed — " in reasons


def test_version_and_a_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"], prog="ratebench")
    assert e.value.code == 0 and re.fullmatch(r"ratebench \S+\n", capsys.readouterr().out)
    assert main(["run", "--strategies", "token-buket", "--clock", "virtual"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'token-bucket'" in err and "aiolimiter" not in err  # the near ones, not all 28
    assert main(["run", "--scenario", "defualt", "--clock", "virtual"]) == 2
    assert "did you mean 'default'" in capsys.readouterr().err


def test_help_names_the_command_and_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"], prog="ratebench")
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: ratebench run")
    for default in ("(default: default)", "(default: all)", "(default: 1)", "(default: real)",
                    "(default: results)", "(default: aiohttp-lean)"):
        assert default in out
    assert "``" not in out


@pytest.mark.parametrize(("extra", "message"), [
    (["--scenario", "all", "--target", "http://127.0.0.1:9/"], "--target with --scenario 'all': one scenario only"),
    (["--scenario", "steady,outage", "--target", "http://127.0.0.1:9/"], "--target with --scenario 'steady,outage'"),
    (["--processes", "2", "--target", "http://127.0.0.1:9/"], "--target with --processes 2: not supported"),
    (["--scenario", "all", "--processes", "2"], "--processes 2 with --scenario 'all': one scenario only"),
    (["--profile", "none"], "--profile: only with --clock virtual"),
])
def test_options_that_do_not_go_together_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                extra: list[str], message: str) -> None:
    assert main(["run", "--strategies", "token-bucket", "--out", str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # refused before a run directory is made


def test_the_header_line_is_singular_for_one(tmp_path: Path, scenario_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--scenario", str(scenario_file), "--strategies", "unlimited", "--clock", "virtual",
                 "--out", str(tmp_path)]) == 0
    assert "'tiny', 1 strategy × 1 repeat, virtual clock" in capsys.readouterr().err
