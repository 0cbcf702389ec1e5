"""``--processes N`` (bench.multiprocess): one run split across client processes on one key; per-process figures
and the total, from the server's log; usage errors; Redis strategies skipped, with the reason, where they cannot run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from bench import cli, multiprocess, redis_server, results, scenarios
from bench.redis_server import RedisServer
from bench.transport import RealServer
from strategies.registry import resolve

SMALL = """
name = "two-procs"
kind = "multi-process"
[server]
latency_ms = 2
[[server.quota]]
algorithm = "sliding-log"
limit = 4
window_s = 0.4
[workload]
jobs = 16
[client]
timeout_s = 30
"""


def _run_dir(out: Path) -> Path:
    (d,) = out.iterdir()
    return d


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["run", "--strategies", "unlimited", "--out", str(tmp_path)]
    assert cli.main([*base, "--processes", "2", "--clock", "virtual"]) == 2
    assert "real clock only" in capsys.readouterr().err
    assert cli.main([*base, "--processes", "0"]) == 2
    assert "--processes: must be 1..64, got 0" in capsys.readouterr().err
    assert cli.main([*base, "--scenario", "shared-quota"]) == 2
    assert "--processes N with N >= 2" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # refused before a run directory is made


def test_redis_strategies_are_skipped_rows_in_virtual_time(tmp_path: Path) -> None:
    assert cli.main(["run", "--clock", "virtual", "--strategies", "unlimited,pyrate-redis", "--out", str(tmp_path),
                     "--profile", "none"]) == 0
    runs = {r["strategy"]: r for r in json.loads((_run_dir(tmp_path) / "results.json").read_text())["runs"]}
    assert runs["unlimited"]["status"] == "ok"
    assert runs["pyrate-redis"]["status"] == "skipped"
    assert runs["pyrate-redis"]["error"] == redis_server.VIRTUAL_REASON
    assert "pyrate-redis" in (_run_dir(tmp_path) / "report.md").read_text()


@pytest.mark.skipif(redis_server.unavailable() is not None, reason=str(redis_server.unavailable()))
def test_two_client_processes_in_memory_vs_one_redis_quota() -> None:
    scenario = scenarios.from_dict(tomllib.loads(SMALL), "two-procs")
    with RealServer() as server, RedisServer() as r, redis_server.provide(r.url):
        alone = multiprocess.run(resolve("token-bucket"), scenario, server, 0, 2)
        r.flush()
        shared = multiprocess.run(resolve("pyrate-redis-gcra"), scenario, server, 0, 2)

    for out in (alone, shared):
        assert out.status == "ok", out.error
        assert out.foreign_arrivals == 0 and len(out.arrivals) == 16  # one tag: every arrival is the run's own
        assert [p["requests"] for p in out.processes] == [8, 8]
        assert [p["process"] for p in out.processes] == [0, 1]
        assert sum(p["attempts"] for p in out.processes) == out.metrics.attempts == 16  # type: ignore[misc]
        assert len({a.job for a in out.attempts}) == 16  # jobs split, none run twice
    # In memory: each process keeps about the quota (4 per 0.4 s; an edge-exact bucket may see a fifth), together
    # they send about twice it: the total's burst is well above any one process's.
    own = [p["burst_ratio"] for p in alone.processes]
    assert alone.metrics.burst_ratio is not None and alone.metrics.burst_ratio >= 1.5
    assert all(isinstance(b, float) and b < alone.metrics.burst_ratio for b in own), own
    assert alone.metrics.throttled > 0
    # In Redis: one GCRA for both, a request every 112.5 ms ((0.4 s + 50 ms) / 4): 16 grants span at least
    # 15 of those, 1.69 s (each process alone would be done in 0.79 s). Delays only stretch it; 1.2 s leaves
    # half a second for a late first send.
    sent = sorted(a.sent_s for a in shared.attempts)
    assert sent[-1] - sent[0] >= 1.2
    assert shared.metrics.completion == 1.0
    # At the server, one request may straddle a window edge when a process stalls more than the 50 ms margin
    # between its grant and its send (a loaded machine); never the other process's whole share.
    assert shared.metrics.burst_ratio is not None and shared.metrics.burst_ratio <= 1.25


def test_a_worker_that_dies_or_hangs_is_a_failed_row_and_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.bench.hostile_strategies import Exiter, Sleeper

    scenario = scenarios.from_dict(tomllib.loads(SMALL), "two-procs")
    short = scenarios.from_dict({**tomllib.loads(SMALL), "client": {"timeout_s": 0.5}}, "two-procs")
    with RealServer() as server:
        died = multiprocess.run(Exiter, scenario, server, 0, 2)
        # Its loop blocked in time.sleep(30): the run's own timeout cannot fire; the parent kills it by PID.
        monkeypatch.setattr(multiprocess, "HANDOVER_S", 0.5)
        hung = multiprocess.run(Sleeper, short, server, 0, 2)
    assert died.status == "failed" and "SystemExit: 3" in str(died.error)
    assert died.foreign_arrivals == 0 and len(died.arrivals) >= 2  # what the dead processes sent is still ours
    assert hung.status == "failed" and "did not finish within the run's timeout: killed" in str(hung.error)
    assert [p["status"] for p in hung.processes] == ["failed", "failed"]
    # The suite's guard (tests/conftest.py) fails this test if either worker outlived it.


@pytest.mark.realserver
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_keeps_the_multi_process_run_as_a_partial_row(tmp_path: Path, signum: int) -> None:
    from tests.bench.test_cli import _children

    slow = tmp_path / "slow.toml"  # 2 per second for 40 jobs: ~20 s, stopped long before
    slow.write_text(SMALL.replace("limit = 4", "limit = 2").replace("window_s = 0.4", "window_s = 1.0")
                    .replace("jobs = 16", "jobs = 40"))
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "--scenario", str(slow), "--strategies",
                             "token-bucket", "--processes", "2", "--run-dir", str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = _children(proc.pid, "bench.multiprocess")
            time.sleep(0.1)
        assert len(workers) == 2, "the workers never started"
        time.sleep(2.0)  # a lower bound only: they are sending (the run takes ~20 s)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err and "INCOMPLETE" in out
    doc = results.load(run_dir)
    (partial,) = doc["runs"]  # the run in progress is kept, marked, with what the server logged of it
    assert (partial["strategy"], partial["status"]) == ("token-bucket", "interrupted")
    assert "2 of 2 processes handed their records over" in partial["error"] and partial["arrivals"] >= 2
    # What the workers had sent is theirs: attempts joined with the server's arrivals, per process and in total.
    assert partial["metrics"]["attempts"] >= 2 and partial["metrics"]["succeeded"] >= 2
    assert [p["status"] for p in partial["processes"]] == ["interrupted", "interrupted"]
    assert sum(p["attempts"] for p in partial["processes"]) == partial["metrics"]["attempts"]
    assert (run_dir / "report.md").is_file() and doc["complete"] is False
    for pid in workers:  # stopped by PID, not orphaned
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
