"""The breaker guard shared by both breaker strategies and layered: one probe per cooldown, refused jobs
wait (bounded), failed calls end their job, 429s never trip it. Both libraries, scripted send, virtual time."""

from __future__ import annotations

import httpx
import pytest

from strategies.breaker_aiobreaker import AiobreakerBreaker
from strategies.breaker_purgatory import PurgatoryBreaker
from strategies.breaking import BreakerStrategy
from strategies.retry_policy import RetryPolicy
from tests.strategies.fake_api import FakeApi, drive, quota

# purgatory opens strictly after opened_at + ttl: its probes come one virtual tick (1 µs) later
LIBRARIES = [(AiobreakerBreaker, 0.0), (PurgatoryBreaker, 1e-6)]


def no_retries(cls: type[BreakerStrategy]) -> type[BreakerStrategy]:
    """The breaker alone: one attempt per call, so each failed request is one breaker failure."""
    return type(cls.__name__ + "NoRetries", (cls,), {"policy": RetryPolicy(max_attempts=1)})


def outage_until(end: float) -> FakeApi:
    return FakeApi(lambda job, n, t: httpx.Response(503 if t < end else 200), latency_s=0.01)


@pytest.mark.parametrize(("cls", "tick"), LIBRARIES)
def test_after_n_failures_nothing_until_the_cooldown_then_one_probe(cls: type[BreakerStrategy],
                                                                    tick: float) -> None:
    api = outage_until(25.0)
    drive(no_retries(cls)(quota(None)), api, 10, every_s=1.0)
    # jobs 0-4 (at 0..4 s) fail and end; the 5th failure opens the breaker at 4.01 s. Jobs 5-9 are
    # refused and queue. Nothing reaches the server until the cooldown has passed; then one probe per
    # cooldown (each fails and re-opens it 10 ms later) until the one after the outage (25 s) succeeds,
    # and the four other queued jobs go at once.
    p1 = 4.01 + 10 + tick
    p2 = p1 + 0.01 + 10 + tick
    p3 = p2 + 0.01 + 10 + tick
    assert api.times() == pytest.approx([0, 1, 2, 3, 4, p1, p2, p3] + [p3 + 0.01] * 4, abs=1e-9)
    assert [c.job for c in api.calls[5:8]] == [5, 6, 7]  # FIFO: a failed prober goes to the back


def test_finding_aiobreaker_restarts_the_cooldown_on_late_failures_purgatory_does_not() -> None:
    # 10 calls 1 ms apart, 10 ms each: the 5th failure (at 14 ms) opens the breaker while 5 more are in
    # flight. They fail at 15..19 ms. purgatory ignores failures that land while it is open; aiobreaker
    # handles each in the *closed* state the call started in, and re-opens: its cooldown restarts at 19 ms.
    releases = [i * 0.001 for i in range(10)] + [1.0]
    probes = []
    for cls, _ in LIBRARIES:
        api = outage_until(5.0)
        drive(no_retries(cls)(quota(None)), api, 11, releases=releases)
        assert len(api.calls) == 11
        probes.append(api.times(10)[0])  # job 10 arrives while open and probes after the cooldown
    assert probes == pytest.approx([10.019, 10.014001], abs=1e-9)


@pytest.mark.parametrize(("cls", "tick"), LIBRARIES)
def test_a_refused_job_gives_up_after_max_rounds(cls: type[BreakerStrategy], tick: float) -> None:
    api = outage_until(float("inf"))
    end = drive(no_retries(cls)(quota(None)), api, 6, releases=[0, 0, 0, 0, 0, 1])
    # 5 failures open it at 0.01; job 5 then probes 20 times (max_rounds), 10 s apart, and gives up
    assert len(api.calls) == 25
    assert api.times(5)[:2] == pytest.approx([10.01 + tick, 20.02 + 2 * tick], abs=1e-9)
    assert end == pytest.approx(0.01 + 20 * (10 + tick + 0.01), abs=1e-6)


@pytest.mark.parametrize(("cls", "tick"), LIBRARIES)
def test_429s_never_trip_the_breaker(cls: type[BreakerStrategy], tick: float) -> None:
    api = FakeApi(lambda job, n, t: httpx.Response(429, headers={"Retry-After": "1"}) if n <= 3
                  else httpx.Response(200))
    drive(cls(quota(None, concurrency=20)), api, 20)
    # every job: three 429s a second apart (retried inside its one breaker call), then 200; the breaker
    # never opened, so no cooldown ever appears in the timeline
    assert sorted(set(api.times())) == [0.0, 1.0, 2.0, 3.0]
    assert len(api.calls) == 80


@pytest.mark.parametrize(("cls", "tick"), LIBRARIES)
def test_transport_errors_trip_it_and_a_throttled_probe_still_closes_it(cls: type[BreakerStrategy],
                                                                       tick: float) -> None:
    def respond(job: int, n: int, t: float) -> httpx.Response | Exception:
        if job < 5:
            return httpx.ConnectError("refused")
        return httpx.Response(429) if n == 1 else httpx.Response(200)

    api = FakeApi(respond)
    drive(no_retries(cls)(quota(None)), api, 6, releases=[0, 0, 0, 0, 0, 1])
    # 5 refused connections open it at 0; job 5's probe at 10 s is throttled: the server is alive, the
    # breaker closes, and the job goes round (a normal call) at once
    assert api.times(5) == pytest.approx([10 + tick, 10 + tick], abs=1e-9)
