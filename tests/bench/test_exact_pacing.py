"""Exact pacing end to end, in virtual time: through the in-process mock app (the server's own clock,
``bench.clock.loop_ns``) and through the runner with the limiters that pace exactly (issue 7).

A client sending request ``i`` at ``ceil(i * W / L)`` µs is never answered 429 by any exact algorithm;
and token-bucket, asynciolimiter-strict and aiometer, which got 1–2 × 429 at 50/s, 100/s and 1 000/s
while the mock compared float sums, get none.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bench import clock, scenarios
from bench.runner import run_one
from bench.transport import AsgiServer
from mock_server.app import create_app
from mock_server.config import ServerConfig
from mock_server.ticks import ceil_div
from strategies.registry import resolve

#: (limit, window_s): 0.5/s to 5 000/s; every window a whole number of microseconds (the loop's tick).
GRID = [(1, 2.0), (3, 0.7), (10, 1.0), (7, 0.3), (50, 1.0), (100, 1.0), (100, 0.1), (50, 0.01)]
ALGORITHMS = [("sliding-log", "clock"), ("fixed-window", "clock"), ("fixed-window", "first"), ("gcra", "clock"),
              ("token-bucket", "clock")]


def paced_statuses(quota: dict[str, object], start_us: int) -> list[int]:
    """Send 2L + 1 requests exactly paced at L per W from ``start_us``; the statuses in order."""
    config = ServerConfig.from_dict({"quota": [quota]})
    (q,) = config.quota
    w_us = q.window_ns // 1000

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, clock.VirtualEventLoop)
        app = create_app(config, clock=clock.loop_ns(loop))
        out = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://mock") as c:
            for i in range(2 * q.limit + 1):
                due = start_us + ceil_div(i * w_us, q.limit)
                await asyncio.sleep((due - loop.time_us) / 1e6)
                assert loop.time_us == due
                out.append((await c.get("/v1/items")).status_code)
        return out

    return clock.run(main())


@pytest.mark.parametrize(("limit", "window_s"), GRID, ids=[f"{lim}-per-{w:g}s" for lim, w in GRID])
@pytest.mark.parametrize(("algorithm", "anchor"), ALGORITHMS, ids=[f"{a}-{b}" for a, b in ALGORITHMS])
def test_exactly_paced_client_gets_no_429_through_the_app(limit: int, window_s: float, algorithm: str,
                                                         anchor: str) -> None:
    quota: dict[str, object] = {"algorithm": algorithm, "limit": limit, "window_s": window_s}
    if algorithm == "fixed-window":
        quota["anchor"] = anchor
    for start_us in (0, 140_000):  # on a window edge, and at the 0.14 s
        assert set(paced_statuses(quota, start_us)) == {200}, (quota, start_us)


@pytest.mark.parametrize("rate", [50, 100, 1000])
@pytest.mark.parametrize("strategy", ["token-bucket", "asynciolimiter-strict", "aiometer"])
def test_exact_limiters_get_no_429_in_virtual_time(strategy: str, rate: int) -> None:
    # Sliding log, `rate` per 1 s, 10 ms latency, jobs released at once: 3L + 1 of them (2L + 1 at 1 000/s,
    # for time). Before the mock counted integer ticks these very runs got token-bucket 2, 2, 1 × 429,
    # asynciolimiter-strict 2, 2, 1 and aiometer 0, 1, 1 at 50, 100, 1 000/s: a request exactly one window
    # after another still found it counted.
    jobs = (3 if rate <= 100 else 2) * rate + 1
    sc = scenarios.from_dict({"server": {"latency_ms": 10, "quota": [{"limit": rate, "window_s": 1.0}]},
                              "workload": {"jobs": jobs}, "client": {"concurrency": 20, "timeout_s": 600}},
                             f"paced-{rate}")
    r = clock.run(run_one(resolve(strategy), sc, AsgiServer()))
    m = r.metrics
    assert (r.status, m.succeeded, m.throttled) == ("ok", jobs, 0)
    assert m.peak_window_count == (rate,) and m.burst_ratio == 1.0
