"""The harness's own lag: hand-computed summaries, and a blocked loop flagged end to end."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from bench import clock, report, results, scenarios
from bench.cli import write_report
from bench.harness_lag import DEFAULT_BOUND_MS, HarnessLag, LagSummary, release_lag, send_lag, transits
from bench.runner import run_one
from bench.transport import AsgiServer
from strategies.base import Job, Jobs, Send, Strategy, for_each
from strategies.registry import resolve


def test_release_lag_counts_only_the_harness_lateness() -> None:
    # Due at 1.000, asked at 0.500, handed at 1.004: 4 ms late.
    assert release_lag(1.0, 0.5, 1.004) == pytest.approx(0.004)
    # The strategy asked at 2.0 for a job due at 1.0 and got it at 2.001: 1 ms, not 1 001 ms.
    assert release_lag(1.0, 2.0, 2.001) == pytest.approx(0.001)
    assert release_lag(1.0, 0.0, 1.0) == 0.0
    assert send_lag(3.0, 3.0002) == pytest.approx(0.0002)
    assert send_lag(3.0, 2.9) == 0.0  # clocks never run backwards; a negative would be a rounding artefact
    assert transits([(1.0, 1.003), (2.0, None), (4.0, 3.9)]) == [pytest.approx(0.003), 0.0]


def test_summary_by_hand() -> None:
    # 1..100 ms: p50 at rank 49.5 -> 50.5 ms; p99 at rank 98.01 -> 99 + 0.01 = 99.01 ms; max 100 ms.
    s = LagSummary.of([i / 1000 for i in range(1, 101)])
    assert s == LagSummary(100, 50.5, 99.01, 100.0)
    assert LagSummary.of([]) is None


def test_limited_is_p99_strictly_above_the_bound_on_judged_lags_only() -> None:
    at = LagSummary(100, 1.0, DEFAULT_BOUND_MS, 50.0)
    over = LagSummary(100, 1.0, DEFAULT_BOUND_MS + 0.01, 50.0)
    assert not HarnessLag(at, at).limited
    assert HarnessLag(over, None).limited and HarnessLag(None, over).limited
    # Transit counts only when the strategy set no client_limits (the queue is then the harness's), and by its
    # median: a slow start (connection set-up) lifts its p99 only.
    slow = LagSummary(100, DEFAULT_BOUND_MS + 0.01, 50.0, 60.0)
    assert not HarnessLag(at, at, slow, transit_judged=False).limited
    assert [n for n, _ in HarnessLag(at, at, slow, transit_judged=True).worst] == ["transit"]
    assert not HarnessLag(at, at, over, transit_judged=True).limited  # p99 over, median 1 ms
    lag = HarnessLag(over, at, over, transit_judged=True, bound_ms=7.5)
    assert HarnessLag.from_dict(json.loads(json.dumps(lag.to_dict()))) == lag


class BlocksTheLoop(Strategy):
    """Sends every job, but first blocks the event loop for 20 ms (a sync call in a coroutine)."""

    name = "blocks-the-loop"
    description = "time.sleep(0.02) before each send"

    async def run(self, jobs: Jobs, send: Send) -> None:
        async def one(job: Job) -> None:
            time.sleep(0.02)  # noqa: ASYNC251 - the point of the test: a blocked loop
            await send(job)

        await for_each(jobs, one)


PACED = scenarios.from_dict({"server": {"latency_ms": 1}, "workload": {"jobs": 10, "release": "rate", "rate": 100},
                             "client": {"concurrency": 10, "timeout_s": 30}}, "paced-small")


def test_a_blocked_loop_is_flagged_harness_limited_in_results_and_report(tmp_path: Path) -> None:
    # A real (not virtual) loop: releases are due every 10 ms, each job blocks the loop for 20 ms, so from
    # the second job on every release timer fires >= 10 ms late — more than the 5 ms bound, whatever the load.
    r = asyncio.run(run_one(BlocksTheLoop, PACED, AsgiServer()))
    assert r.status == "ok" and r.harness is not None
    assert r.harness.release is not None and r.harness.release.p99_ms >= 10.0
    assert r.harness.limited

    run_dir = results.new_run_dir(tmp_path, "paced-small")
    writer = results.RunWriter(run_dir, results.meta(clock="real", transport="asgi", scenario={"name": "paced-small"},
                                                     resolved=PACED.resolved(), strategies=[r.strategy], repeat=1))
    writer.add(r)
    writer.finish()
    table = write_report(run_dir)
    doc = json.loads((run_dir / "results.json").read_text())
    (entry,) = doc["runs"]
    assert entry["harness"]["harness_limited"] is True
    assert entry["harness"]["release_lag"]["p99_ms"] >= 10.0
    md = (run_dir / "report.md").read_text()
    assert "harness-limited 1/1" in md and "blocks-the-loop repeat 0: harness-limited — release lag p99" in md
    assert f"{report.MARK}" in md.split("| blocks-the-loop |")[1].splitlines()[0]  # beside the figures
    assert "harness-limited" in (run_dir / "report.html").read_text()
    assert "harness-limited 1/1" in table


def test_a_run_on_schedule_is_not_flagged() -> None:
    # Virtual time: the harness is exactly on time, so both lags are zero.
    r = clock.run(run_one(resolve("unlimited"), PACED, AsgiServer()))
    assert r.harness is not None and r.harness.release == LagSummary(10, 0.0, 0.0, 0.0)
    assert r.harness.send is not None and r.harness.send.max_ms == 0.0
    assert not r.harness.limited


def test_transit_leaves_out_the_tail_of_a_clump_the_strategy_released() -> None:
    # 20 jobs at once to `unlimited`: it sends all 20 in one instant. The first CROWD (8) are sent with fewer
    # than 8 of the run's requests in flight; the other 12 queue behind their own clump and are not judged.
    from bench.harness_lag import CROWD

    clump = scenarios.from_dict({"server": {"latency_ms": 10}, "workload": {"jobs": 20}}, "clump")
    r = clock.run(run_one(resolve("unlimited"), clump, AsgiServer()))
    assert len(r.attempts) == 20 and CROWD == 8
    assert r.harness is not None and r.harness.transit is not None and r.harness.transit.count == CROWD
    # Paced one at a time, nothing is crowded: every attempt's transit counts.
    r = clock.run(run_one(resolve("unlimited"), PACED, AsgiServer()))
    assert r.harness is not None and r.harness.transit is not None and r.harness.transit.count == 10
