"""Calibration: the load counts it groups by, and one small real run that yields a valid profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import calibrate, netmodel
from bench.cli import main
from bench.records import Attempt


def att(sent: float, arrival: float, done: float) -> Attempt:
    return Attempt(0, 1, 0.0, sent, arrival, done, 200)


def test_a_bursts_later_sends_count_the_earlier_ones_still_on_their_way() -> None:
    # Three sent at once, arriving at 1, 2, 3 ms; a fourth sent at 5 ms, when all three had arrived.
    burst = [att(0.0, 0.001, 0.010), att(0.0, 0.002, 0.011), att(0.0, 0.003, 0.012), att(0.005, 0.006, 0.013)]
    assert calibrate.sending_at_send(burst) == [3, 3, 3, 1]
    # Answers: at 1 ms only the first is on its way back; at 6 ms all four are.
    assert calibrate.receiving_at_answer(burst) == [1, 2, 3, 4]


@pytest.mark.realserver
def test_a_small_calibration_makes_a_valid_profile() -> None:
    doc = calibrate.calibrate(plan=((1, 20), (8, 3)), timer_scale=0.05, token_repeats=1)
    profile = netmodel.parse_profile(doc, "small")
    assert profile.granularity_us == calibrate.granularity_us()
    # 20 lone requests and 3 bursts of 8; a burst's head is left out of the delay tables when it went alone
    # (n == 1, _delays), so at least 20 + 3 × 7 samples.
    assert doc["send"]["counts"][0] >= 20 - 3 and sum(doc["send"]["counts"]) >= 20 + 3 * 7
    assert profile.send.tables[0].median_us() > 0 and profile.slack.tables[0].median_us() >= 0
    assert 0.3 < doc["checks"]["token_bucket_1000_capacity_1"]["real_fraction"] <= 1.0
    assert "p50" in calibrate.summary(profile)


def test_calibrate_never_overwrites_a_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "p.json"
    taken.write_text("{}")
    assert main(["calibrate", "--out", str(taken)]) == 2
    assert "never overwritten" in capsys.readouterr().err and taken.read_text() == "{}"


@pytest.mark.parametrize("out", ["/dev/null/p.json", "/proc/p.json"])
def test_an_output_path_that_cannot_be_written_is_refused_before_measuring(
        out: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import calibrate

    def measured(**kw: object) -> dict[str, object]:
        raise AssertionError("measured although the profile could not be written")

    monkeypatch.setattr(calibrate, "calibrate", measured)
    assert main(["calibrate", "--out", out]) == 2  # today: seconds of measuring, then a traceback
    assert f"--out {out}: cannot write the profile there" in capsys.readouterr().err
