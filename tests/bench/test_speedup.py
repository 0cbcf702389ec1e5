"""The speed-up command: virtual side only (the real matrix takes minutes; `make bench-speedup`)."""

from __future__ import annotations

import pytest

from bench import speedup


def test_virtual_only_prints_the_wall_time_and_no_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    assert speedup.main(["--clock", "virtual", "--scenarios", "token-bucket-burst", "--strategies", "unlimited"]) == 0
    out = capsys.readouterr().out.splitlines()
    row = next(line for line in out if line.startswith("token-bucket-burst"))
    real, virtual, ratio = row.split()[1:]
    assert real == "–" and ratio == "–" and float(virtual) > 0


def test_bad_input_exits_2() -> None:
    assert speedup.main(["--scenarios", "nope"]) == 2
    assert speedup.main(["--strategies", "nope"]) == 2
