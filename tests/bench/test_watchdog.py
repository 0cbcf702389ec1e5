"""The watchdog takes control back from strategies that hang, block or exit (bench.watchdog)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bench import scenarios, watchdog
from bench.runner import run_one
from bench.transport import AsgiServer, RealServer
from strategies.base import Strategy
from strategies.registry import resolve
from tests.bench import hostile_strategies as hostile

FAST = watchdog.Limits(grace_s=0.5, setup_s=30, teardown_s=60, stall_s=1.0, join_s=0.5)
REAL_TIME = time.clock_gettime
MONO = time.CLOCK_MONOTONIC


def scenario(timeout_s: float = 2.0, jobs: int = 5) -> scenarios.Scenario:
    return scenarios.from_dict({"server": {"quota": [{"limit": 100, "window_s": 1.0}]},
                                "workload": {"jobs": jobs}, "client": {"timeout_s": timeout_s}}, "w")


def run_virtual(cls: type[Strategy], sc: scenarios.Scenario | None = None, **kw: Any) -> watchdog.Outcome:
    return watchdog.run(run_one, cls, sc or scenario(), AsgiServer(), virtual=True, limits=FAST, **kw)


def test_a_strategy_that_swallows_cancellation_is_a_timeout_in_virtual_mode() -> None:
    t = REAL_TIME(MONO)
    out = run_virtual(hostile.Swallower)
    assert REAL_TIME(MONO) - t < 20  # today: spins for ever, a core burnt
    r = out.result
    assert r.status == "timeout" and "ignores cancellation" in (r.error or "")
    assert not out.abandoned
    assert [(a.job, a.attempt, a.status) for a in r.attempts] == [(0, 1, 200)]
    assert [a.request_id for a in r.arrivals] == ["j0.1"] and r.attempts[0].arrival_s == 0.0


def test_a_blocked_virtual_loop_is_abandoned_and_the_clock_given_back() -> None:
    real_monotonic = time.monotonic
    out = run_virtual(hostile.Sleeper)
    assert out.result.status == "timeout" and out.abandoned
    assert "blocked its event loop" in (out.result.error or "")
    assert time.monotonic is real_monotonic  # the stuck thread's time patch was released
    assert out.result.metrics.attempts == 1
    # The next run is unaffected.
    assert run_virtual(resolve("token-bucket")).result.status == "ok"


def test_system_exit_from_a_strategy_is_a_failed_row() -> None:
    out = run_virtual(hostile.Exiter)
    assert out.result.status == "failed" and "SystemExit: 3" in (out.result.error or "")
    assert out.result.metrics.attempts == 2 and out.result.metrics.succeeded == 2


def test_keyboard_interrupt_raised_by_a_strategy_is_a_failed_row() -> None:
    out = run_virtual(hostile.CtrlC)
    assert out.result.status == "failed" and "KeyboardInterrupt" in (out.result.error or "")


def test_a_signal_during_a_run_keeps_what_it_measured() -> None:
    with pytest.raises(watchdog.Interrupted) as caught:
        run_virtual(hostile.SignalsSelf)
    r = caught.value.partial
    assert r.status == "interrupted" and "partial" in (r.error or "")
    assert [a.job for a in r.attempts] == [0, 1, 2] and all(a.status == 200 for a in r.attempts)


@pytest.mark.parametrize("cls", [hostile.BadLimits, hostile.ZeroPool])
def test_bad_client_limits_fail_that_strategy_only(cls: type[Strategy]) -> None:
    r = run_virtual(cls).result
    assert r.status == "failed" and "client_limits" in (r.error or "")


def test_a_job_the_workload_never_released_is_refused() -> None:
    r = run_virtual(hostile.Forger).result
    assert r.status == "failed" and "never released" in (r.error or "")
    assert r.metrics.completion == 0.0 and r.metrics.attempts == 0  # today: 20 forged jobs "succeed"


@pytest.mark.realserver
@pytest.mark.usefixtures("abandoned_runs_settle")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_real_mode_swallower_and_blocker_end_as_timeouts() -> None:
    sc = scenario(timeout_s=1.0)
    with RealServer() as server:
        t = REAL_TIME(MONO)
        swallow = watchdog.run(run_one, hostile.Swallower, sc, server, virtual=False, limits=FAST)
        assert swallow.result.status == "timeout" and not swallow.abandoned
        hostile.Sleeper.seconds = 6.0
        try:
            block = watchdog.run(run_one, hostile.Sleeper, sc, server, virtual=False, limits=FAST)
        finally:
            hostile.Sleeper.seconds = 30.0
        assert block.result.status == "timeout" and block.abandoned
        assert REAL_TIME(MONO) - t < 20
        assert [a.request_id.split(".")[:2] for a in block.result.arrivals] == [["j0", "1"]]  # + the run's tag


def test_virtual_runs_do_not_leak_the_time_patch(tmp_path: Path) -> None:
    real = time.monotonic
    assert run_virtual(resolve("unlimited")).result.status == "ok"
    assert time.monotonic is real


def test_a_strategy_that_ignores_its_cancellation_and_then_finishes_is_a_timeout() -> None:
    r = run_virtual(hostile.LateFinisher).result
    assert r.status == "timeout" and "ignored its cancellation at 2 s" in (r.error or "")  # today: "ok"
    assert r.metrics.succeeded == 5 and all(a.sent_s == 2.0 for a in r.attempts)


def test_the_servers_own_failure_still_ends_the_benchmark() -> None:
    from bench.transport import ServerError

    class DeadServer(AsgiServer):
        async def reset(self, config: Any) -> None:
            raise ServerError("mock server did not answer the reset")

    with pytest.raises(ServerError, match="did not answer the reset"):
        watchdog.run(run_one, resolve("unlimited"), scenario(), DeadServer(), virtual=True, limits=FAST)


class _TaggedAsgi(AsgiServer):
    """The in-process app, but named like a socket server: the runner tags its ids, and the log also holds a
    request someone else sent with the run's job.attempt under another tag, and one with no tag at all."""

    name = "tagged-asgi"

    async def arrivals(self) -> Any:
        from dataclasses import replace

        from bench.records import Arrival

        log = await super().arrivals()
        later = log.arrivals[0].t_ns + 500_000_000  # half a second on: still in the run's first window
        others = [Arrival("0.1.ffffffff", later, 200, cost=7), Arrival("1.1", later, 200)]
        return replace(log, arrivals=[*log.arrivals, *others])


def test_a_run_the_watchdog_ended_counts_token_tiers_in_tokens_and_foreign_arrivals() -> None:
    # Exiter sends jobs 0 and 1 (cost 7 tokens each), then raises SystemExit: the watchdog salvages the run.
    sc = scenarios.from_dict({"server": {"quota": [{"limit": 100, "window_s": 1.0, "unit": "tokens"}]},
                              "workload": {"jobs": 5, "cost": {"model": "fixed", "value": 7}},
                              "client": {"timeout_s": 2.0}}, "w")
    r = watchdog.run(run_one, hostile.Exiter, sc, _TaggedAsgi(), virtual=True, limits=FAST).result
    assert r.status == "failed"
    assert len(r.arrivals) == 4
    assert r.foreign_arrivals == 2  # "0.1.ffffffff" and "1.1": not this run's tag
    assert [(a.job, a.attempt, a.arrival_s) for a in r.attempts] == [(0, 1, 0.0), (1, 1, 0.0)]  # not the foreign
    # A token tier counts costs: this run's two arrivals plus the two foreign ones, 7 tokens each
    # (the foreign "1.1" declared the default cost 1) — not 4 requests.
    assert r.metrics.peak_window_count == (7 + 7 + 7 + 1,)
