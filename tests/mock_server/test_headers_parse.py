"""Round trip: the headers each dialect emits, read back by the client-side parser the strategies use
(``strategies.ratelimit_headers.parse``), give the right limit, remaining and delay.

Same timeline as test_headers: at 4.5 s the request is rejected, the next slot is at 10.0 s (5.5 s
away; whole-second fields say 6). ``now_epoch`` is the server's wall clock at that response.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.mock_server.apptools import EPOCH, at_times, config

rlh = pytest.importorskip("strategies.ratelimit_headers", reason="the client-side parser has not landed yet")

NOW_EPOCH = EPOCH + 4.5


def rejected(**headers: Any) -> Any:
    rs = at_times(
        config(quota=[{"limit": 5, "window_s": 10, "name": "api"}], headers=headers),
        [0.0, 1.0, 2.0, 3.0, 4.0, 4.5],
        wall=EPOCH,
    )
    first = rlh.parse(rs[0].headers, now_epoch=EPOCH)
    last = rlh.parse(rs[-1].headers, now_epoch=NOW_EPOCH)
    return first, last


@pytest.mark.parametrize("dialect", ["x-ratelimit", "ietf-draft10", "ratelimit-trio", "ietf-draft07"])
def test_delta_dialects(dialect: str) -> None:
    first, info = rejected(dialect=dialect)
    assert (first.limit, first.remaining, first.reset_after_s) == (5, 4, 10.0)
    assert (info.limit, info.remaining, info.reset_after_s) == (5, 0, 6.0)
    assert info.retry_after_s == 6.0


@pytest.mark.parametrize(
    ("dialect", "reset"), [("github", "epoch"), ("x-ratelimit", "epoch"), ("ratelimit-trio", "epoch")]
)
def test_epoch_resets_are_never_read_as_deltas(dialect: str, reset: str) -> None:
    first, info = rejected(dialect=dialect, reset=reset)
    # The epoch sent is EPOCH + 10 in both cases: 10 s after the first response, 5.5 s after the last.
    assert first.reset_after_s == pytest.approx(10.0)
    assert info.reset_after_s == pytest.approx(5.5)
    assert (info.limit, info.remaining) == (5, 0)


def test_http_date_retry_after_is_in_the_future_by_the_right_seconds() -> None:
    _, info = rejected(retry_after="http-date")
    # Sent as the IMF-fixdate of EPOCH + 10, read at EPOCH + 4.5.
    assert info.retry_after_s == pytest.approx(5.5)


def test_retry_after_ms_is_the_precise_delay() -> None:
    _, info = rejected(retry_after="ms")
    assert info.retry_after_s == pytest.approx(5.5)


def test_none_dialect_still_carries_retry_after() -> None:
    _, info = rejected(dialect="none")
    assert (info.limit, info.remaining, info.reset_after_s, info.retry_after_s) == (None, None, None, 6.0)
