"""The token-weighted strategies (issue 13) on the built-in ``llm-api`` scenarios, end to end through the
runner and the in-process mock under virtual time: the weight-aware ones stay within both tiers (from
the server's arrival log), the request-counting ones cross the token tier. Plus the bucket's schedule
by hand."""

from __future__ import annotations

import asyncio

import pytest

from bench import clock, request_ids, scenarios
from strategies.base import Tier
from strategies.registry import resolve
from strategies.token_bucket_weighted import WeightedBucket
from tests.strategies.harness import end_to_end

WEIGHTED = ["token-bucket-weighted", "aiolimiter-weighted", "pyrate-weighted", "adaptive-tokens"]
COUNTING = ["token-bucket", "aiolimiter", "pyrate-memory"]


def job_of(request_id: str) -> int:
    parsed = request_ids.parse(request_id)
    assert parsed is not None, request_id
    return parsed[0]


def tier_ratios(name: str, scenario: str) -> tuple[float, float, float, int]:
    sc = scenarios.load(scenario)
    r = end_to_end(resolve(name), sc)
    (req, tok) = sc.server.quota
    m = r.metrics
    # The server logged every job's cost as the runner declared it (x-cost), first attempts included.
    costs = sc.workload.costs()
    assert all(a.cost == costs[job_of(a.request_id)] for a in r.arrivals)
    assert m.efficiency is None or 0 < m.efficiency <= 1.0  # the weighted oracle is never beaten
    return m.peak_window_count[0] / req.limit, m.peak_window_count[1] / tok.limit, m.completion or 0.0, m.throttled


@pytest.mark.parametrize("scenario", ["llm-api", "llm-api-anthropic"])
@pytest.mark.parametrize("name", WEIGHTED)
def test_weight_aware_strategies_stay_within_both_tiers(name: str, scenario: str) -> None:
    req, tok, completion, throttled = tier_ratios(name, scenario)
    assert req <= 1.0 and tok <= 1.0
    assert (completion, throttled) == (1.0, 0)


@pytest.mark.parametrize("name", COUNTING)
def test_request_counting_strategies_cross_the_token_tier(name: str) -> None:
    req, tok, completion, throttled = tier_ratios(name, "llm-api")
    assert tok > 1.0  # they pace requests (the bursty aiolimiter crosses even the request tier: 1.18)
    assert throttled > 0 and completion < 1.0
    if name != "aiolimiter":
        assert req <= 1.0


def test_weighted_bucket_takes_every_tier_at_once() -> None:
    # Requests: 2 per second (C = 1, one every 0.5 s). Tokens: 40 per second (C = 10, 30 per second).
    # Costs 10, 10, 1: the first goes at 0; the second needs 10 tokens back (1/3 s) and a request slot
    # (0.5 s): 0.5; the third needs a request slot: 1.0.
    async def grants() -> list[float]:
        b, loop, out = WeightedBucket((Tier(2, 1.0), Tier(40, 1.0, "tokens"))), asyncio.get_running_loop(), []
        for cost in (10, 10, 1):
            await b.acquire(cost)
            out.append(round(loop.time(), 6))
        return out

    assert clock.run(grants()) == [0.0, 0.5, 1.0]
