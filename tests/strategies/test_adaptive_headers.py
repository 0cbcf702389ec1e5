"""adaptive-headers: the static floor at r, slower when the headers say so, Retry-After first."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bench import clock
from strategies.adaptive_headers import AdaptiveHeaders, HeaderPacer
from strategies.registry import resolve
from strategies.token_bucket import CorrectedTokenBucket
from tests.strategies.fake_api import FakeApi, drive, end_to_end, quota, rate_limited


def test_registered_under_its_name() -> None:
    assert resolve("adaptive-headers") is AdaptiveHeaders


def ok(**headers: str) -> httpx.Response:
    return httpx.Response(200, headers=headers)


def test_nothing_left_means_nothing_sent_until_the_reset() -> None:
    api = FakeApi(lambda job, n, t: ok(**{"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3"})
                  if job == 0 else ok())
    drive(AdaptiveHeaders(quota(10)), api, 5)
    # then the floor (10/s) again: the answers after the reset carry no headers
    assert api.times() == pytest.approx([0.0, 3.0, 3.1, 3.2, 3.3], abs=1e-9)


def test_remaining_is_spread_over_the_reset() -> None:
    api = FakeApi(lambda job, n, t: ok(**{"RateLimit": "limit=10, remaining=4, reset=2"}))
    drive(AdaptiveHeaders(quota(10)), api, 4)
    assert api.times() == pytest.approx([0.0, 0.5, 1.0, 1.5], abs=1e-9)  # 2 s / 4 left, slower than 0.1


def test_never_faster_than_the_static_floor() -> None:
    api = FakeApi(lambda job, n, t: ok(**{"x-ratelimit-remaining": "1000", "x-ratelimit-reset": "1"}))
    drive(AdaptiveHeaders(quota(10)), api, 4)
    assert api.times() == pytest.approx([0.0, 0.1, 0.2, 0.3], abs=1e-9)


@pytest.mark.parametrize("headers", [
    {"x-ratelimit-remaining": "abc", "x-ratelimit-reset": "-1"},
    {"RateLimit": '"x";r=-1;t=oops', "RateLimit-Policy": "garbage;;;"},
    {"retry-after": "soon", "x-ratelimit-reset": "1e9"},
    {},
])
def test_malformed_headers_fall_back_to_the_static_floor(headers: dict[str, str]) -> None:
    api = FakeApi(lambda job, n, t: ok(**headers))
    drive(AdaptiveHeaders(quota(10)), api, 4)
    assert api.times() == pytest.approx([0.0, 0.1, 0.2, 0.3], abs=1e-9)


def test_retry_after_wins_over_the_reset_and_closes_the_gate_for_everyone() -> None:
    def respond(job: int, n: int, t: float) -> httpx.Response:
        if (job, n) == (0, 1):
            return rate_limited({"Retry-After": "2", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "5"})
        return ok()

    api = FakeApi(respond)
    drive(AdaptiveHeaders(quota(10)), api, 3)
    # job 1 waits at the gate until 2.0 (not 5.0); job 0's retry queues behind job 2 on the floor
    assert api.times(0) == pytest.approx([0.0, 2.2])
    assert api.times(1) == pytest.approx([2.0])
    assert api.times(2) == pytest.approx([2.1])


def test_in_flight_requests_are_subtracted_from_remaining() -> None:
    async def main() -> list[float]:
        pacer = HeaderPacer(rate=100)
        for _ in range(3):
            await pacer.acquire()  # three requests sent, none answered yet
        seen = []
        for _ in range(3):  # each answer says 3 left, 3 s to the reset
            pacer.observe(ok(**{"x-ratelimit-remaining": "3", "x-ratelimit-reset": "3"}))
            seen.append(pacer.interval_s)
        return seen

    # 3 left minus 2, 1, 0 still in flight: spread over 3 s
    assert clock.run(main()) == [3.0, 1.5, 1.0]


def test_a_fresher_answer_brings_the_next_send_forward() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        pacer = HeaderPacer(rate=100)
        await pacer.acquire()
        await pacer.acquire()
        pacer.observe(ok(**{"x-ratelimit-remaining": "1", "x-ratelimit-reset": "10"}))  # 1 left - 1 in flight
        waiter = asyncio.create_task(pacer.acquire())
        await asyncio.sleep(1.0)
        pacer.observe(ok(**{"x-ratelimit-remaining": "9", "x-ratelimit-reset": "9"}))  # 1 s apart now
        await waiter
        return loop.time()

    # the gate said 10.0 (nothing left for 10 s); the second answer moved the next send to 0.01 + 1.0
    assert clock.run(main()) == pytest.approx(1.01)


SLIDING_5 = {"latency_ms": 10, "quota": [{"limit": 5, "window_s": 1.0}]}


def scenario(headers: dict[str, object], **server: object) -> dict[str, object]:
    return {"server": {**SLIDING_5, **server, "headers": headers}, "workload": {"jobs": 20},
            "client": {"concurrency": 20, "timeout_s": 120}}


def test_whole_second_resets_make_header_pacing_conservative_end_to_end() -> None:
    adaptive = end_to_end(AdaptiveHeaders, scenario({"dialect": "x-ratelimit"})).metrics
    floor = end_to_end(CorrectedTokenBucket, scenario({"dialect": "x-ratelimit"})).metrics
    # No 429 either way, but a sliding log's reset ("when one more is allowed") is sent rounded up to a
    # whole second: spread over it, 4 left in 1 s is slower than the floor's 0.2 s, and it compounds.
    assert (adaptive.throttled, floor.throttled) == (0, 0)
    # (8.41 s since the mock counts integer ticks: before, a float sum kept a request exactly one window
    # old in the log at 1.733334 s and the headers said "2 left, reset 0"; now they say "3 left, reset 1".)
    assert adaptive.duration_s == pytest.approx(8.410004) and floor.duration_s == pytest.approx(3.81)
    assert adaptive.burst_ratio == 0.6


def test_without_headers_it_is_the_static_floor_end_to_end() -> None:
    a = end_to_end(AdaptiveHeaders, scenario({"dialect": "none"}))
    b = end_to_end(CorrectedTokenBucket, scenario({"dialect": "none"}))
    assert [x.sent_s for x in a.attempts] == [x.sent_s for x in b.attempts]


def test_github_403_with_epoch_reset_is_waited_out() -> None:
    r = end_to_end(AdaptiveHeaders, {
        "server": {"latency_ms": 10, "quota": [{"algorithm": "fixed-window", "limit": 5, "window_s": 10}],
                   "headers": {"dialect": "github", "reject_status": 403, "retry_after": "none"}},
        "declared": {"quota": [{"limit": 10, "window_s": 10}]},  # the docs overstate the quota
        "workload": {"jobs": 12}, "client": {"concurrency": 20, "timeout_s": 120}})
    m = r.metrics
    # At 1/s (the declared floor) the 5th request empties the window; its epoch reset (GitHub style,
    # rounded up to a whole second) holds everyone until the window has really reset: no 403 at all.
    assert (m.completion, m.attempts, m.errors) == (1.0, 12, 0)
    # Deterministic because bench.clock anchors the patched time.time() on a whole second.
    assert m.duration_s == pytest.approx(23.25)


def test_a_quota_cut_below_the_declared_rate_is_followed() -> None:
    cut = {"server": {"latency_ms": 10, "quota": [{"algorithm": "fixed-window", "limit": 20, "window_s": 1}],
                      "headers": {"dialect": "ratelimit-trio"},
                      "dynamics": {"schedule": [{"at_s": 2, "limit": 5}]}},
           "workload": {"jobs": 100, "release": "rate", "rate": 20}, "client": {"concurrency": 20, "timeout_s": 120}}
    adaptive = end_to_end(AdaptiveHeaders, cut).metrics
    floor = end_to_end(CorrectedTokenBucket, cut).metrics
    # From 2 s the server allows 5/s, not the declared 20/s: the static limiter keeps sending at 20/s
    # and 45 of its 100 requests are refused (no retries in token-bucket); the pacer follows the
    # headers down, with no 429, at the price of time (whole-second resets again: ~2x the oracle).
    assert (floor.throttled, floor.completion) == (45, 0.55)
    assert (adaptive.throttled, adaptive.completion) == (0, 1.0)
    assert adaptive.duration_s == pytest.approx(28.229318)


def test_a_wait_of_400_days_from_one_200_is_capped_and_counted() -> None:
    import asyncio as _asyncio

    import httpx as _httpx

    from bench.clock import run as _run
    from strategies.adaptive_headers import HeaderPacer as _Pacer
    from strategies.base import Job as _Job

    async def demo() -> tuple[list[float], int]:
        pacer, loop, sent = _Pacer(rate=100, max_wait_s=120.0), _asyncio.get_running_loop(), []

        async def send(job: _Job) -> _httpx.Response:
            sent.append(loop.time())
            # 399 days, both as Retry-After and as a reset with nothing left: plausible to the parser.
            return _httpx.Response(200, headers={"retry-after": str(399 * 86_400), "x-ratelimit-remaining": "0",
                                                 "x-ratelimit-reset": str(399 * 86_400)})

        for i in range(2):
            await pacer.send(send, _Job(i))
        return sent, pacer.capped

    sent, capped = _run(demo())
    assert sent == [0.0, 120.0]  # today: the second send waits 399 days
    assert capped == 4  # two answers, each with two hints cut
