"""circuit-breaker-purgatory: the strategy's timeline against the mock in outage, and purgatory 3's clock."""

from __future__ import annotations

import asyncio

import pytest
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from bench import clock
from strategies.breaker_purgatory import PurgatoryBreaker
from strategies.registry import resolve
from strategies.retry_backoff import RetryBackoff
from strategies.retry_policy import RetryPolicy
from tests.strategies.fake_api import end_to_end


def test_registered_under_its_name() -> None:
    assert resolve("circuit-breaker-purgatory") is PurgatoryBreaker


def test_finding_its_cooldown_reads_time_time_so_virtual_time_moves_it_strictly_after_the_ttl() -> None:
    async def main() -> list[str]:
        factory = AsyncCircuitBreakerFactory(default_threshold=1, default_ttl=10)
        breaker = await factory.get_breaker("api")
        with pytest.raises(RuntimeError):
            async with breaker:
                raise RuntimeError("down")
        seen: list[str] = [breaker.context.state]
        await asyncio.sleep(10)  # exactly the ttl: purgatory wants time.time() > opened_at + ttl
        try:
            async with breaker:
                pass
        except OpenedState:
            seen.append("refused at +10 s")
        await asyncio.sleep(1e-6)  # one virtual tick later
        async with breaker:
            pass
        seen.append(breaker.context.state)
        return seen

    assert clock.run(main()) == ["opened", "refused at +10 s", "closed"]


class Exact(PurgatoryBreaker):
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
    # cooldown, then its probe (one tick after the ttl: purgatory's strict check), which succeeds;
    # job 6 (96 s) goes through normally.
    assert arrivals[:30] == pytest.approx([16 * k + t for k in range(5) for t in CALL])
    assert arrivals[30:] == [89.500001, 96.0]
    assert (r.metrics.completion, r.metrics.errors) == (2 / 7, 30)


def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    r = end_to_end(Exact, outage(95))
    arrivals = sorted(r.arrivals, key=lambda a: a.t)
    # the probe at 89.500001 s fails; job 6 (96 s) queues behind job 5, both go at the next probe
    assert [a.t for a in arrivals[29:]] == pytest.approx([79.5, 89.500001, 99.500002, 99.500002])
    assert [a.status for a in arrivals[29:]] == [503, 503, 200, 200]


def test_it_sheds_load_in_an_outage_and_saves_the_jobs_that_arrive_during_it() -> None:
    scenario = outage(60, start_s=5, jobs=200, release="rate", rate=2)
    retry_only = end_to_end(RetryBackoff, scenario).metrics
    breaker = end_to_end(PurgatoryBreaker, scenario).metrics
    # 2 jobs/s into a 55 s outage: retries alone send every job's 6 attempts into it; with the breaker
    # open, jobs wait for a probe to succeed instead, and go through after the outage
    assert (retry_only.completion, retry_only.attempts) == (0.6, 725)
    assert (breaker.completion, breaker.attempts) == (0.82, 383)
