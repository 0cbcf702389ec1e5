"""circuit-breaker-aiobreaker: the strategy's timeline against the mock in outage, and what aiobreaker
1.2 itself does (the article's ``reset_timeout``, its clocks, its time-zone mix-up)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo

import pytest
from aiobreaker import CircuitBreaker, CircuitBreakerError, CircuitBreakerState

from bench import clock
from strategies.breaker_aiobreaker import AiobreakerBreaker
from strategies.registry import resolve
from strategies.retry_backoff import RetryBackoff
from strategies.retry_policy import RetryPolicy
from tests.strategies.fake_api import end_to_end


def test_registered_under_its_name() -> None:
    assert resolve("circuit-breaker-aiobreaker") is AiobreakerBreaker


# -- findings about the library ------------------------------------------------------------------------


def test_finding_the_articles_reset_timeout_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'reset_timeout'"):
        CircuitBreaker(fail_max=5, reset_timeout=60)
    assert CircuitBreaker(fail_max=5, timeout_duration=timedelta(seconds=60)).timeout_duration.seconds == 60


async def _fail() -> None:
    raise RuntimeError("down")


async def _ok() -> str:
    return "up"


async def _trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.fail_max):
        with pytest.raises((RuntimeError, CircuitBreakerError)):
            await breaker.call_async(_fail)
    assert breaker.current_state == CircuitBreakerState.OPEN


def test_finding_its_cooldown_ignores_the_virtual_clock() -> None:
    async def main() -> str:
        breaker = CircuitBreaker(fail_max=2, timeout_duration=timedelta(seconds=10))
        await _trip(breaker)
        await asyncio.sleep(60)  # six cooldowns of virtual time, a few real milliseconds
        assert time.monotonic() == 60.0 and time.time() > 0  # bench.clock moved time.*, not datetime
        try:
            await breaker.call_async(_ok)
        except CircuitBreakerError as e:
            return str(e.message)
        return "closed"

    assert clock.run(main()) == "Timeout not elapsed yet, circuit breaker still open"


def test_finding_its_cooldown_reads_datetime_utcnow(monkeypatch: pytest.MonkeyPatch) -> None:
    # aiobreaker works in naive datetimes (utcnow()); the fake hands out naive ones too
    now = [datetime(2024, 1, 1, 12, tzinfo=UTC).replace(tzinfo=None)]

    class FakeDatetime(datetime):
        @classmethod
        def utcnow(cls) -> datetime:  # type: ignore[override]
            return now[0]

        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return now[0]

    monkeypatch.setattr("aiobreaker.state.datetime", FakeDatetime)
    monkeypatch.setattr("aiobreaker.circuitbreaker.datetime", FakeDatetime)

    async def main() -> str:
        breaker = CircuitBreaker(fail_max=1, timeout_duration=timedelta(seconds=10))
        await _trip(breaker)
        now[0] += timedelta(seconds=10, microseconds=1)  # only its datetime moves
        return str(await breaker.call_async(_ok))

    assert asyncio.run(main()) == "up"


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Switch the process's local time zone (``TZ`` + ``time.tzset()``); restored afterwards."""

    def switch(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield switch
    monkeypatch.undo()
    time.tzset()


def test_finding_it_mixes_utc_and_local_time(local_zone: Callable[[str], None]) -> None:
    """``opened_at`` is ``utcnow()``, ``opens_at`` compares it with ``now()`` (local time)."""

    async def trip_and_read() -> tuple[object, object, object]:
        breaker = CircuitBreaker(fail_max=1, timeout_duration=timedelta(seconds=60))
        try:
            await breaker.call_async(_fail)
        except CircuitBreakerError as e:
            err = e
        until: object
        try:
            until = breaker.time_until_open
        except TypeError as t:
            until = t
        return err.reopen_time, breaker.opens_at, until

    local_zone("XXX-2")  # POSIX spelling of UTC+2
    reopen, opens_at, until = asyncio.run(trip_and_read())
    assert reopen is None and opens_at is None  # "not open" while open for another minute
    assert isinstance(until, TypeError)  # so time_until_open / sleep_until_open() crash

    local_zone("XXX+5")  # UTC-5
    _, _, until = asyncio.run(trip_and_read())
    assert isinstance(until, timedelta)
    assert until > timedelta(hours=5)  # a 60 s cooldown reported as five hours and a minute


# -- the strategy against the mock in outage -----------------------------------------------------------


class Exact(AiobreakerBreaker):
    """No jitter, so the timeline is round numbers: 0.5, 1, 2, 4, 8 s between attempts."""

    policy = RetryPolicy(jitter=0.0)


def outage(end_s: float, start_s: float = 0.0, **workload: object) -> dict[str, object]:
    return {"server": {"faults": {"outages": [{"start_s": start_s, "end_s": end_s}]}},
            "workload": workload or {"jobs": 7, "release": "rate", "rate": 1 / 16},
            "client": {"concurrency": 20, "timeout_s": 900}}


CALL = [0.0, 0.5, 1.5, 3.5, 7.5, 15.5]  # one call: 6 attempts, 0.5 × 2^n apart (no jitter)


def test_open_after_five_failed_calls_silent_for_the_cooldown_then_one_probe() -> None:
    r = end_to_end(Exact, outage(85))
    arrivals = sorted(a.t for a in r.arrivals)
    # a job every 16 s; jobs 0-4 spend their 6 attempts in the outage and fail: the 5th failed call
    # (79.5 s) opens the breaker. Job 5 (80 s) is refused: nothing reaches the server for the 10 s
    # cooldown, then its probe, which succeeds; job 6 (96 s) goes through normally.
    assert arrivals[:30] == pytest.approx([16 * k + t for k in range(5) for t in CALL])
    assert arrivals[30:] == [89.5, 96.0]
    assert (r.metrics.completion, r.metrics.errors) == (2 / 7, 30)


def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    r = end_to_end(Exact, outage(95))
    arrivals = sorted(r.arrivals, key=lambda a: a.t)
    # the probe at 89.5 s fails; job 6 (96 s) queues behind job 5, both go at the next probe
    assert [a.t for a in arrivals[29:]] == pytest.approx([79.5, 89.5, 99.5, 99.5])
    assert [a.status for a in arrivals[29:]] == [503, 503, 200, 200]


def test_it_sheds_load_in_an_outage_and_saves_the_jobs_that_arrive_during_it() -> None:
    scenario = outage(60, start_s=5, jobs=200, release="rate", rate=2)
    retry_only = end_to_end(RetryBackoff, scenario).metrics
    breaker = end_to_end(AiobreakerBreaker, scenario).metrics
    # 2 jobs/s into a 55 s outage: retries alone send every job's 6 attempts into it; with the breaker
    # open, jobs wait for a probe to succeed instead, and go through after the outage
    assert (retry_only.completion, retry_only.attempts) == (0.6, 725)
    assert (breaker.completion, breaker.attempts) == (0.82, 382)
