"""Each header dialect's exact fields, on one hand-written timeline.

Timeline: sliding log 5 per 10 s named "api"; requests at 0, 1, 2, 3, 4 are accepted, 4.5 is rejected.
At 1.0 (accepted): remaining 3, the oldest (0.0) leaves at 10: reset 9 s.
At 4.5 (rejected): remaining 0, next slot at 10.0: reset and retry 5.5 s, sent as 6 (rounded up);
epoch forms are EPOCH + 10 (4.5 + 5.5).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mock_server.headers import http_date
from tests.mock_server.apptools import EPOCH, at_times, config

TIMES = [0.0, 1.0, 2.0, 3.0, 4.0, 4.5]
E = int(EPOCH)


def run(**headers: Any) -> tuple[httpx.Response, httpx.Response]:
    rs = at_times(config(quota=[{"limit": 5, "window_s": 10, "name": "api"}], headers=headers), TIMES, wall=EPOCH)
    assert [r.status_code for r in rs] == [200] * 5 + [headers.get("reject_status", 429)]
    return rs[1], rs[-1]


def picked(r: httpx.Response, *names: str) -> dict[str, str | None]:
    return {n: r.headers.get(n) for n in names}


X = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def test_x_ratelimit_delta() -> None:
    ok, no = run()
    assert picked(ok, *X) == {
        "x-ratelimit-limit": "5",
        "x-ratelimit-remaining": "3",
        "x-ratelimit-reset": "9",
    }
    assert picked(no, *X) == {
        "x-ratelimit-limit": "5",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "6",
    }
    assert no.headers["retry-after"] == "6" and "retry-after" not in ok.headers


def test_x_ratelimit_epoch() -> None:
    ok, no = run(dialect="x-ratelimit", reset="epoch")
    assert ok.headers["x-ratelimit-reset"] == str(E + 10)  # 1.0 + 9
    assert no.headers["x-ratelimit-reset"] == str(E + 10)  # 4.5 + 5.5


def test_github() -> None:
    ok, no = run(dialect="github")
    names = (*X, "x-ratelimit-used", "x-ratelimit-resource")
    assert picked(ok, *names) == dict(zip(names, ["5", "3", str(E + 10), "2", "api"], strict=True))
    assert picked(no, *names) == dict(zip(names, ["5", "0", str(E + 10), "5", "api"], strict=True))


def test_ietf_draft10() -> None:
    ok, no = run(dialect="ietf-draft10")
    assert ok.headers["ratelimit-policy"] == '"api";q=5;w=10'
    assert ok.headers["ratelimit"] == '"api";r=3;t=9'
    assert no.headers["ratelimit"] == '"api";r=0;t=6'
    assert "x-ratelimit-limit" not in ok.headers


def test_ietf_draft10_lists_every_policy_and_reports_the_binding_one() -> None:
    cfg = config(
        quota=[{"limit": 10, "window_s": 1, "name": "burst"}, {"limit": 3, "window_s": 60, "name": "hour"}],
        headers={"dialect": "ietf-draft10"},
    )
    (r,) = at_times(cfg, [0.0])
    assert r.headers["ratelimit-policy"] == '"burst";q=10;w=1, "hour";q=3;w=60'
    assert r.headers["ratelimit"] == '"hour";r=2;t=60'


def test_ratelimit_trio_delta_and_epoch() -> None:
    ok, no = run(dialect="ratelimit-trio")
    names = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
    assert picked(ok, *names) == dict(zip(names, ["5", "3", "9"], strict=True))
    assert picked(no, *names) == dict(zip(names, ["5", "0", "6"], strict=True))
    _, no = run(dialect="ratelimit-trio", reset="epoch")
    assert no.headers["ratelimit-reset"] == str(E + 10)


def test_ietf_draft07_dictionary() -> None:
    ok, no = run(dialect="ietf-draft07")
    assert ok.headers["ratelimit"] == "limit=5, remaining=3, reset=9"
    assert no.headers["ratelimit"] == "limit=5, remaining=0, reset=6"
    assert no.headers["ratelimit-policy"] == "5;w=10"


def test_none() -> None:
    ok, no = run(dialect="none")
    assert not [h for h in ok.headers if "ratelimit" in h]
    assert no.headers["retry-after"] == "6"


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("seconds", {"retry-after": "6", "retry-after-ms": None}),
        ("http-date", {"retry-after": "Tue, 14 Nov 2023 22:13:30 GMT", "retry-after-ms": None}),
        ("ms", {"retry-after": "6", "retry-after-ms": "5500"}),
        ("none", {"retry-after": None, "retry-after-ms": None}),
    ],
)
def test_retry_after_forms(retry_after: str, expected: dict[str, str | None]) -> None:
    _, no = run(retry_after=retry_after)
    assert picked(no, "retry-after", "retry-after-ms") == expected
    assert http_date(EPOCH + 10) == "Tue, 14 Nov 2023 22:13:30 GMT"


def test_403_with_problem_json() -> None:
    _, no = run(reject_status=403, problem_json=True)
    assert no.status_code == 403 and no.headers["content-type"] == "application/problem+json"
    assert no.json() == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "Request quota exhausted; see the rate-limit headers.",
    }
    assert no.headers["x-ratelimit-remaining"] == "0"


def test_problem_json_for_injected_errors_too() -> None:
    cfg = config(faults={"error_rate": 1.0, "error_statuses": [503]}, headers={"problem_json": True})
    (r,) = at_times(cfg, [0.0])
    assert r.status_code == 503 and r.json()["title"] == "Service Unavailable"
