"""The client-side header parser: literal examples per dialect, then properties over generated headers."""

from __future__ import annotations

import math
from email.utils import formatdate

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.ratelimit_headers import MAX_DELAY_S, RateLimitInfo, parse

NOW = 1_700_000_000.0


# -- one literal example per dialect -------------------------------------------------------------------


def test_x_ratelimit_delta_reset() -> None:
    info = parse({"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "3"}, NOW)
    assert info == RateLimitInfo(20, 7, 3.0, None, None, "x-ratelimit")


def test_github_epoch_reset_and_used() -> None:
    info = parse({"x-ratelimit-limit": "60", "x-ratelimit-used": "60", "x-ratelimit-reset": "1700000042",
                  "x-ratelimit-resource": "core"}, NOW)
    # remaining is derived from limit - used when only "used" is sent
    assert (info.limit, info.remaining, info.reset_after_s) == (60, 0, 42.0)
    assert info.wait_s == 42.0


def test_epoch_reset_in_the_past_is_zero() -> None:
    assert parse({"x-ratelimit-reset": "1699999000"}, NOW).reset_after_s == 0.0


def test_epoch_milliseconds_reset() -> None:
    assert parse({"x-ratelimit-reset": "1700000002500"}, NOW).reset_after_s == pytest.approx(2.5)


def test_discord_reset_after_is_a_fractional_delta() -> None:
    info = parse({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "0.250"}, NOW)
    assert (info.remaining, info.reset_after_s, info.wait_s) == (0, 0.25, 0.25)


def test_ietf_draft10_picks_the_binding_policy_and_joins_by_name() -> None:
    h = {"RateLimit-Policy": '"burst";q=100;w=60, "daily";q=1000;w=86400',
         "RateLimit": '"burst";r=50;t=30, "daily";r=5;t=3000'}
    # burst allows 50/30 s = 1.7/s, daily 5/3000 s: daily binds
    assert parse(h, NOW) == RateLimitInfo(1000, 5, 3000.0, None, 86400.0, "ietf-draft10")


def test_ietf_draft10_zero_remaining_takes_the_longest_wait() -> None:
    h = {"RateLimit": '"a";r=0;t=2, "b";r=0;t=9, "c";r=4;t=1'}
    info = parse(h, NOW)
    assert (info.remaining, info.reset_after_s, info.wait_s) == (0, 9.0, 9.0)


def test_ietf_draft10_single_policy_without_a_matching_name() -> None:
    info = parse({"RateLimit-Policy": '"default";q=10;w=1', "RateLimit": '"other";r=3;t=1'}, NOW)
    assert (info.limit, info.remaining, info.policy_window_s) == (10, 3, 1.0)


def test_ietf_draft10_policy_only() -> None:
    info = parse({"RateLimit-Policy": '"h";q=3600;w=3600, "m";q=30;w=60'}, NOW)
    assert (info.limit, info.remaining, info.policy_window_s) == (30, None, 60.0)


def test_ietf_draft07_dictionary() -> None:
    info = parse({"RateLimit": "limit=10, remaining=5, reset=3", "RateLimit-Policy": "10;w=1, 50;w=60"}, NOW)
    assert info == RateLimitInfo(10, 5, 3.0, None, 1.0, "ietf-draft07")


def test_ratelimit_trio_with_policy_in_the_limit_header() -> None:
    info = parse({"RateLimit-Limit": "50, 10;w=1, 50;w=60", "RateLimit-Remaining": "49",
                  "RateLimit-Reset": "59"}, NOW)
    assert info == RateLimitInfo(50, 49, 59.0, None, 60.0, "ratelimit-trio")


def test_retry_after_seconds_http_date_and_ms() -> None:
    assert parse({"Retry-After": "120"}, NOW).retry_after_s == 120.0
    assert parse({"Retry-After": formatdate(NOW + 30, usegmt=True)}, NOW).retry_after_s == 30.0
    assert parse({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, NOW).retry_after_s == 0.0  # past
    assert parse({"Retry-After": "2", "retry-after-ms": "1500"}, NOW).retry_after_s == 1.5
    # a server that puts an epoch in Retry-After is not asking for a 54-year wait
    assert parse({"Retry-After": "1700000005"}, NOW).retry_after_s == 5.0


def test_retry_after_wins_over_the_reset() -> None:
    info = parse({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "30", "retry-after": "4"}, NOW)
    assert info.wait_s == 4.0


def test_httpx_headers_case_insensitive_and_joined_duplicates() -> None:
    h = httpx.Headers([("RateLimit", '"a";r=5;t=10'), ("ratelimit", '"b";r=1;t=10'),
                       ("RATELIMIT-POLICY", '"a";q=5;w=10, "b";q=2;w=10')])
    info = parse(h, NOW)
    assert (info.limit, info.remaining, info.reset_after_s) == (2, 1, 10.0)


def test_preferred_dialect_when_several_are_present() -> None:
    h = {"ratelimit": "limit=10, remaining=1, reset=1", "x-ratelimit-limit": "99", "x-ratelimit-remaining": "98"}
    assert parse(h, NOW).dialect == "ietf-draft07"


@pytest.mark.parametrize("bad", ["-1", "abc", "1e3", "nan", "inf", "", " ", "1.2.3", "٣", "0x10", "1_000",
                                 "99999999999999999999999"])
def test_malformed_numbers_are_ignored(bad: str) -> None:
    h = {"x-ratelimit-limit": bad, "x-ratelimit-remaining": bad, "x-ratelimit-reset": bad, "retry-after": bad}
    assert parse(h, NOW) == RateLimitInfo()


def test_implausible_delays_are_ignored() -> None:
    assert parse({"x-ratelimit-reset": str(int(NOW + 10 * 365 * 86400))}, NOW).reset_after_s is None
    assert parse({"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, NOW).retry_after_s is None
    assert parse({"x-ratelimit-reset": "500000000"}, NOW).reset_after_s is None  # 15 years as a delta


# -- properties ----------------------------------------------------------------------------------------

header_names = st.sampled_from([
    "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used",
    "x-ratelimit-reset-after", "ratelimit", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining",
    "ratelimit-reset", "retry-after", "retry-after-ms", "X-RateLimit-Reset", "RateLimit", "Retry-After",
]) | st.text(max_size=20)
sf_ish = st.text(alphabet='"\\;,=:?*-.0123456789abcqrtwlimres ', max_size=40)
header_values = st.text(max_size=60) | sf_ish | st.integers().map(str) | st.floats().map(str)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(header_names, header_values, max_size=8),
       st.floats(allow_nan=True, allow_infinity=True) | st.none())
def test_arbitrary_headers_never_raise_and_stay_sane(headers: dict[str, str], now: float | None) -> None:
    info = parse(headers, now)
    for v in (info.reset_after_s, info.retry_after_s):
        assert v is None or (math.isfinite(v) and 0.0 <= v <= MAX_DELAY_S)
    for n in (info.limit, info.remaining):
        assert n is None or n >= 0
    assert info.wait_s is None or 0.0 <= info.wait_s <= MAX_DELAY_S


@given(st.integers(0, 10**6) | st.decimals(0, 10**6, places=3).map(float))
def test_valid_delta_resets_and_retry_after_parse_exactly(delay: float) -> None:
    text = f"{delay:.3f}".rstrip("0").rstrip(".")
    assert parse({"x-ratelimit-remaining": "0", "x-ratelimit-reset": text}, NOW).wait_s == float(text)
    assert parse({"ratelimit": f"remaining=0, reset={text}"}, NOW).wait_s == float(text)
    assert parse({"retry-after": text, "x-ratelimit-reset": "9"}, NOW).wait_s == float(text)


@given(st.floats(1.2e9, 4e9), st.integers(-10**6, 10**6))
def test_epoch_resets_become_the_delay_to_that_instant(now: float, offset: int) -> None:
    reset = math.floor(now) + offset
    got = parse({"x-ratelimit-reset": str(reset)}, now).reset_after_s
    assert got == pytest.approx(max(0.0, reset - now), abs=1e-6)


@given(st.integers(int(1e9) + 1, 10**13), st.floats(0, 4e9) | st.none())
def test_epoch_looking_resets_never_become_huge_delays(reset: int, now: float | None) -> None:
    for h in ({"x-ratelimit-reset": str(reset)}, {"ratelimit-reset": str(reset)},
              {"ratelimit": f"reset={reset}"}, {"retry-after": str(reset)}):
        info = parse(h, now)
        for v in (info.reset_after_s, info.retry_after_s):
            assert v is None or v <= MAX_DELAY_S


@given(st.floats(1.2e9, 4e9), st.integers(0, 10**6))
def test_http_date_n_seconds_ahead_is_n(now: float, n: int) -> None:
    # An HTTP-date has whole seconds (formatdate truncates, and rounds within a float ulp of the next
    # second): the delay read back is n to within one second.
    got = parse({"Retry-After": formatdate(now + n, usegmt=True)}, now).retry_after_s
    assert got is not None
    assert abs(got - n) <= 1


# -- LLM dialects (issue 13) ---------------------------------------------------------------------------


def test_openai_requests_and_tokens_with_go_durations() -> None:
    info = parse({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "59",
                  "x-ratelimit-reset-requests": "1s", "x-ratelimit-limit-tokens": "150000",
                  "x-ratelimit-remaining-tokens": "149984", "x-ratelimit-reset-tokens": "6m0s"}, NOW)
    assert (info.dialect, info.limit, info.remaining, info.reset_after_s) == ("openai", 60, 59, 1.0)
    assert (info.tokens_limit, info.tokens_remaining, info.tokens_reset_after_s) == (150000, 149984, 360.0)


@pytest.mark.parametrize(("value", "seconds"), [("1m30.5s", 90.5), ("0s", 0.0), ("20ms", 0.02), ("6m0s", 360.0),
                                                ("1h0m0s", 3600.0), ("1.25s", 1.25), ("500us", 0.0005)])
def test_go_durations(value: str, seconds: float) -> None:
    assert parse({"x-ratelimit-reset-tokens": value}, NOW).tokens_reset_after_s == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "1", "1.5", "-1s", "s", "1x", "1m30.5", "inf s", "٣s", "1e3s", "1 s",
                                 "9999999999h"])
def test_malformed_go_durations_are_ignored(bad: str) -> None:
    info = parse({"x-ratelimit-reset-tokens": bad, "x-ratelimit-remaining-tokens": "5"}, NOW)
    assert (info.tokens_reset_after_s, info.tokens_remaining, info.dialect) == (None, 5, "openai")


def test_openai_retry_after_ms_wins() -> None:
    info = parse({"x-ratelimit-remaining-tokens": "0", "retry-after": "2", "retry-after-ms": "1500"}, NOW)
    assert info.retry_after_s == 1.5 and info.wait_s == 1.5


def test_anthropic_rfc3339_resets() -> None:
    info = parse({"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "49",
                  "anthropic-ratelimit-requests-reset": "2023-11-14T22:13:21Z",  # NOW + 1 s
                  "anthropic-ratelimit-tokens-limit": "40000", "anthropic-ratelimit-tokens-remaining": "39000",
                  "anthropic-ratelimit-tokens-reset": "2023-11-14T23:13:20.5+01:00"}, NOW)  # NOW + 0.5 s
    assert (info.dialect, info.limit, info.remaining, info.reset_after_s) == ("anthropic", 50, 49, 1.0)
    assert (info.tokens_limit, info.tokens_remaining) == (40000, 39000)
    assert info.tokens_reset_after_s == pytest.approx(0.5)


@pytest.mark.parametrize("bad", ["", "2023-11-14", "2023-11-14T22:13:21", "2023-13-14T22:13:21Z", "soon",
                                 "2023-11-14T22:13:21.5", "1700000001", "２０２３-11-14T22:13:21Z"])
def test_malformed_rfc3339_is_ignored(bad: str) -> None:
    info = parse({"anthropic-ratelimit-tokens-reset": bad, "anthropic-ratelimit-tokens-remaining": "7"}, NOW)
    assert (info.tokens_reset_after_s, info.tokens_remaining) == (None, 7)


def test_past_rfc3339_reset_is_zero() -> None:
    assert parse({"anthropic-ratelimit-tokens-reset": "2020-01-01T00:00:00Z"}, NOW).tokens_reset_after_s == 0.0


llm_names = st.sampled_from([f"x-ratelimit-{f}-{u}" for f in ("limit", "remaining", "reset")
                             for u in ("requests", "tokens")]
                            + [f"anthropic-ratelimit-{u}-{f}" for f in ("limit", "remaining", "reset")
                               for u in ("requests", "tokens")] + ["retry-after-ms", "retry-after"])
go_ish = st.text(alphabet="0123456789.hmsun-µ ", max_size=16)
rfc_ish = st.text(alphabet="0123456789-:TZ.+ ", max_size=30)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(llm_names, header_values | go_ish | rfc_ish, max_size=8),
       st.floats(allow_nan=True, allow_infinity=True) | st.none())
def test_arbitrary_llm_headers_never_raise_and_stay_sane(headers: dict[str, str], now: float | None) -> None:
    info = parse(headers, now)
    for v in (info.reset_after_s, info.retry_after_s, info.tokens_reset_after_s):
        assert v is None or (math.isfinite(v) and 0.0 <= v <= MAX_DELAY_S)
    for n in (info.limit, info.remaining, info.tokens_limit, info.tokens_remaining):
        assert n is None or n >= 0


@given(st.integers(0, 10**9))
def test_mock_go_durations_parse_back(ms: int) -> None:
    from mock_server.headers import go_duration as fmt

    assert parse({"x-ratelimit-reset-tokens": fmt(ms * 1_000_000)}, NOW).tokens_reset_after_s == pytest.approx(
        ms / 1000)
