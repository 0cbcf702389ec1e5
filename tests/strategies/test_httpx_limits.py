"""httpx-limits: the connection pool is the only limiter, so only a real server shows it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bench import scenarios
from bench.runner import run_one
from bench.transport import TRANSPORTS, RealServer
from strategies.base import Quota, Tier
from strategies.httpx_limits import HttpxLimits
from strategies.registry import resolve
from strategies.unlimited import Unlimited
from tests.strategies.harness import drive, end_to_end, quota, scenario


def test_registered_under_its_name() -> None:
    assert resolve("httpx-limits") is HttpxLimits
    assert HttpxLimits.description


def test_client_limits_come_from_the_declared_concurrency() -> None:
    s = HttpxLimits(Quota((Tier(20, 1.0),), concurrency=7))
    assert s.client_limits == httpx.Limits(max_connections=7, max_keepalive_connections=7)
    assert Unlimited(Quota(())).client_limits is None  # the base default: the harness's own pool


def test_the_strategy_itself_fires_every_job_at_once() -> None:
    assert set(drive(HttpxLimits(quota(5, concurrency=2)), 10, latency=0.1).times) == {0.0}


def test_in_process_the_limits_do_not_apply() -> None:
    # ASGI transport: no connections, so no pool; exactly like unlimited (all 10 in flight at once)
    r = end_to_end(HttpxLimits, scenario(100, 10, latency_ms=100, concurrency=2))
    assert r.metrics.peak_concurrency == 10


@pytest.mark.realserver
@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_against_a_real_server_the_pool_caps_concurrency(transport: str) -> None:
    # Counts only (real time): 100 ms service, 10 jobs at once, 2 connections → 2 in flight at the
    # server, never more; unlimited (the harness's 1000-connection pool) gets all 10 in at once.
    sc = scenarios.from_dict(
        {"server": {"latency_ms": 100}, "workload": {"jobs": 10}, "client": {"concurrency": 2, "timeout_s": 30}},
        "pool",
    )
    with RealServer(transport=transport) as server:
        limited = asyncio.run(run_one(HttpxLimits, sc, server))
        unlimited = asyncio.run(run_one(Unlimited, sc, server))
    assert limited.status == unlimited.status == "ok"
    assert limited.metrics.succeeded == unlimited.metrics.succeeded == 10
    assert limited.metrics.peak_concurrency == 2
    assert unlimited.metrics.peak_concurrency > 2  # typically 10; only "more than the pool" is robust
