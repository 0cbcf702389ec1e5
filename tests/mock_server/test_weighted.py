"""Token-weighted tiers (issue 13): every algorithm counts a request's cost in a ``unit = "tokens"``
tier, exactly, in integer ticks; the app reads the cost from the ``x-cost`` header, refuses hostile
values with a 400 naming the header, and answers 429 when either tier is over. Expected values are
computed by hand in the comments (window 100 ns, limit 10 tokens)."""

from __future__ import annotations

import json

import httpx
import pytest

from mock_server.app import create_app
from mock_server.config import ConfigError, QuotaConfig, ServerConfig
from mock_server.policies import GCRA, FixedWindow, FixedWindowFromFirst, SlidingCounter, SlidingLog, Tiered, build
from tests.mock_server.apptools import EPOCH, FakeClock, call

W = 100


def test_fixed_window_counts_cost() -> None:
    p = FixedWindow(10, W, unit="tokens")
    p.record(0, 6)
    # 6 of 10 used in [0, 100): 4 more fit now, 5 only in the next window.
    assert (p.remaining(50), p.earliest(50, 4), p.earliest(50, 5)) == (4, 50, 100)


def test_fixed_window_from_first_counts_cost() -> None:
    p = FixedWindowFromFirst(10, W, unit="tokens")
    p.record(20, 6)  # the window is [20, 120)
    assert (p.earliest(30, 4), p.earliest(30, 5), p.remaining(30)) == (30, 120, 4)


def test_sliding_log_frees_the_oldest_costs_first() -> None:
    p = SlidingLog(10, W, unit="tokens")
    p.record(0, 6)
    p.record(50, 3)
    # At 60: 9 in the window. 1 fits; 2..5 need the 6 at t=0 gone (at 100); 8 needs both gone (at 150).
    assert [p.earliest(60, n) for n in (1, 2, 5, 8)] == [60, 100, 100, 150]
    assert (p.remaining(60), p.reset_after(60)) == (1, 40)
    assert p.remaining(100) == 7  # the 6 left exactly one window after it came


def test_sliding_counter_weighs_cost() -> None:
    p = SlidingCounter(10, W, unit="tokens")
    p.record(10, 6)
    # Bucket 0 holds 6: 4 more fit at 50. 5 more need 6 * (100 - e) <= 5 * 100 in bucket 1: e >= 17 (117).
    assert (p.earliest(50, 4), p.earliest(50, 5)) == (50, 117)
    p.record(117, 5)  # and it is accepted there: the estimate is 6 * 83 / 100 + 5 = 9.98 <= 10


def test_gcra_takes_n_tokens() -> None:
    p = GCRA(10, W, unit="tokens")  # 10 per 100 ns: one token per 10 ns, bucket of 10
    p.record(0, 10)
    # Empty: one token back after 10 ns, five after 50 ns.
    assert (p.earliest(0, 1), p.earliest(0, 5), p.remaining(50)) == (10, 50, 5)


def test_tiered_counts_requests_and_tokens() -> None:
    t = Tiered([SlidingLog(2, W), SlidingLog(10, W, unit="tokens")])
    assert t.decide(0, 6).allowed
    d = t.decide(1, 6)  # 12 tokens > 10: refused, until the first 6 leave at 100
    assert (d.allowed, d.retry_after_ns) == (False, 99)
    assert t.decide(2, 4).allowed  # 10 tokens, 2 requests: both tiers exactly full
    assert not t.decide(3, 0).allowed  # a free request still counts 1 in the request tier
    assert t.max_cost() == 10


@pytest.mark.parametrize("algorithm", ["sliding-log", "fixed-window", "sliding-counter", "gcra"])
def test_a_cost_of_one_is_the_unweighted_policy(algorithm: str) -> None:
    # Weighted with every cost 1 behaves exactly like counting requests (same decisions, same instants).
    a, b = build([QuotaConfig(3, 1e-6, algorithm)]), build([QuotaConfig(3, 1e-6, algorithm, unit="tokens")])
    times = [0, 1, 2, 3, 250, 400, 401, 402, 403, 1000, 1333, 1334]
    assert [a.decide(t).allowed for t in times] == [b.decide(t, 1).allowed for t in times]


def test_unit_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"server.quota\[0\].unit: must be one of"):
        ServerConfig.from_dict({"quota": [{"limit": 1, "window_s": 1, "unit": "bytes"}]})
    c = ServerConfig.from_dict({"quota": [{"limit": 1, "window_s": 1, "unit": "tokens"}], "cost": {"default": 3}})
    assert ServerConfig.from_dict(c.to_dict()) == c


LLM = {"quota": [{"limit": 3, "window_s": 60, "name": "rpm"},
                 {"limit": 100, "window_s": 60, "unit": "tokens", "name": "tpm"}],
       "headers": {"dialect": "openai", "retry_after": "ms"}}


def _send(cfg: dict[str, object], costs: list[str | None]) -> list[httpx.Response]:
    app = create_app(ServerConfig.from_dict(cfg), clock=FakeClock(100.0), wall=lambda: EPOCH)

    async def go(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [await c.get("/v1/x", headers={} if v is None else {"x-cost": v.encode("latin-1")}) for v in costs]

    return call(app, go)


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "1e3", "99999999999", "²", "", "1000001"])
def test_hostile_costs_are_400_naming_the_header(value: str) -> None:
    r = _send(LLM, [value])[0]
    assert r.status_code == 400
    assert "x-cost" in json.loads(r.content)["error"]


def test_a_cost_above_the_token_capacity_is_400() -> None:
    r = _send(LLM, ["101"])[0]
    assert r.status_code == 400 and "exceeds the token quota's capacity (100)" in r.json()["error"]


def test_token_tier_rejects_with_openai_headers() -> None:
    ok, over, small = _send(LLM, ["70", "40", "30"])
    assert (ok.status_code, over.status_code, small.status_code) == (200, 429, 200)
    h = ok.headers
    assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]) == ("3", "2")
    assert (h["x-ratelimit-limit-tokens"], h["x-ratelimit-remaining-tokens"]) == ("100", "30")
    assert h["x-ratelimit-reset-tokens"] == "1m0s" and h["x-ratelimit-reset-requests"] == "1m0s"
    # Refused for tokens (70 + 40 > 100) until the 70 leave, 60 s later: retry-after-ms says so.
    assert (over.headers["retry-after"], over.headers["retry-after-ms"]) == ("60", "60000")
    assert small.headers["x-ratelimit-remaining-tokens"] == "0"


def test_anthropic_dialect_sends_rfc3339_resets() -> None:
    cfg = {**LLM, "headers": {"dialect": "anthropic"}}
    (r,) = _send(cfg, ["10"])
    assert r.headers["anthropic-ratelimit-tokens-remaining"] == "90"
    assert r.headers["anthropic-ratelimit-requests-remaining"] == "2"
    assert r.headers["anthropic-ratelimit-tokens-reset"] == "2023-11-14T22:14:20.000Z"  # EPOCH + 60 s


def test_missing_header_costs_the_configured_default() -> None:
    cfg = {**LLM, "cost": {"default": 60}}
    assert [r.status_code for r in _send(cfg, [None, None])] == [200, 429]
