"""Both breaker strategies against the mock in an outage: the same timeline, parametrised.

purgatory's cooldown check is strict (``time.time() > opened_at + ttl``), so its probes come one
virtual tick (1 µs) after aiobreaker's adapter's.
"""

from __future__ import annotations

import pytest

from strategies.breaker_aiobreaker import AiobreakerBreaker
from strategies.breaker_purgatory import PurgatoryBreaker
from strategies.breaking import BreakerStrategy
from strategies.retry_backoff import RetryBackoff
from strategies.retry_policy import RetryPolicy
from tests.strategies.fake_api import end_to_end

TICK = 1e-6
CALL = [0.0, 0.5, 1.5, 3.5, 7.5, 15.5]  # one call: 6 attempts, 0.5 × 2^n apart (no jitter)
# (strategy, probe lateness in ticks, attempts while shedding load in test_it_sheds_load…)
BREAKERS = [(AiobreakerBreaker, 0, 382), (PurgatoryBreaker, 1, 383)]


def exact(cls: type[BreakerStrategy]) -> type[BreakerStrategy]:
    """No jitter, so the timeline is round numbers: 0.5, 1, 2, 4, 8 s between attempts."""
    return type(f"Exact{cls.__name__}", (cls,), {"policy": RetryPolicy(jitter=0.0)})


def outage(end_s: float, start_s: float = 0.0, **workload: object) -> dict[str, object]:
    return {"server": {"faults": {"outages": [{"start_s": start_s, "end_s": end_s}]}},
            "workload": workload or {"jobs": 7, "release": "rate", "rate": 1 / 16},
            "client": {"concurrency": 20, "timeout_s": 900}}


@pytest.mark.parametrize(("cls", "late", "_"), BREAKERS)
def test_open_after_five_failed_calls_silent_for_the_cooldown_then_one_probe(
    cls: type[BreakerStrategy], late: int, _: int
) -> None:
    r = end_to_end(exact(cls), outage(85))
    arrivals = sorted(a.t for a in r.arrivals)
    # a job every 16 s; jobs 0-4 spend their 6 attempts in the outage and fail: the 5th failed call
    # (79.5 s) opens the breaker. Job 5 (80 s) is refused: nothing reaches the server for the 10 s
    # cooldown, then its probe, which succeeds; job 6 (96 s) goes through normally.
    assert arrivals[:30] == pytest.approx([16 * k + t for k in range(5) for t in CALL])
    assert arrivals[30:] == pytest.approx([89.5 + late * TICK, 96.0], abs=1e-9)
    assert (r.metrics.completion, r.metrics.errors) == (2 / 7, 30)


@pytest.mark.parametrize(("cls", "late", "_"), BREAKERS)
def test_a_failed_probe_reopens_for_another_cooldown(cls: type[BreakerStrategy], late: int, _: int) -> None:
    r = end_to_end(exact(cls), outage(95))
    arrivals = sorted(r.arrivals, key=lambda a: a.t)
    # the probe at 89.5 s fails; job 6 (96 s) queues behind job 5, both go at the next probe
    second = 99.5 + 2 * late * TICK
    assert [a.t for a in arrivals[29:]] == pytest.approx([79.5, 89.5 + late * TICK, second, second], abs=1e-9)
    assert [a.status for a in arrivals[29:]] == [503, 503, 200, 200]


@pytest.mark.parametrize(("cls", "_", "attempts"), BREAKERS)
def test_it_sheds_load_in_an_outage_and_saves_the_jobs_that_arrive_during_it(
    cls: type[BreakerStrategy], _: int, attempts: int
) -> None:
    scenario = outage(60, start_s=5, jobs=200, release="rate", rate=2)
    retry_only = end_to_end(RetryBackoff, scenario).metrics
    breaker = end_to_end(cls, scenario).metrics
    # 2 jobs/s into a 55 s outage: retries alone send every job's 6 attempts into it; with the breaker
    # open, jobs wait for a probe to succeed instead, and go through after the outage
    assert (retry_only.completion, retry_only.attempts) == (0.6, 725)
    assert (breaker.completion, breaker.attempts) == (0.82, attempts)
