"""The timer-rate benchmark command: both figures, side by side."""

from __future__ import annotations

import pytest

from bench import timer_rate


def test_prints_real_and_virtual_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    # 50 tokens at 1000/s, then the frontier limiter as 10 per 10 ms over 5 windows: ~110 ms of real time.
    assert timer_rate.main(["--tokens", "50", "--repeat", "1", "--frontier", "10/0.01"]) == 0
    out = capsys.readouterr().out
    assert "real loop" in out and "virtual loop" in out and "percentage points" in out
    assert "FrontierLimiter((10, 0.01)) = 1000/s, 5 windows" in out


def test_bad_input_exits_2() -> None:
    assert timer_rate.main(["--rate", "0"]) == 2
    assert timer_rate.main(["--profile", "nope"]) == 2
    assert timer_rate.main(["--frontier", "10"]) == 2
    assert timer_rate.main(["--frontier", "0/1"]) == 2
