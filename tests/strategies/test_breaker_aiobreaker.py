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


