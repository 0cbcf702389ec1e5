"""The user-strategy example (examples/custom_strategy/my_limiter.py) works as docs/strategies.md says."""

from __future__ import annotations

import doctest
import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import scenarios
from bench.cli import main as cli_main
from strategies.base import Strategy
from strategies.registry import resolve
from tests.strategies.harness import TICKS, arrival_times, drive, end_to_end, quota

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "custom_strategy"


@pytest.fixture
def my_limiter(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Strategy]]:
    """``resolve("my_limiter:MyLimiter")`` with the example's directory on sys.path (as PYTHONPATH=...)."""
    monkeypatch.syspath_prepend(str(EXAMPLE_DIR))
    monkeypatch.delitem(sys.modules, "my_limiter", raising=False)
    cls = resolve("my_limiter:MyLimiter")
    yield cls
    sys.modules.pop("my_limiter", None)


def test_resolves_by_import_path(my_limiter: type[Strategy]) -> None:
    assert issubclass(my_limiter, Strategy)
    assert my_limiter.name == "my-limiter" and my_limiter.description


def test_docstring_examples(my_limiter: type[Strategy]) -> None:
    assert doctest.testmod(importlib.import_module(my_limiter.__module__)).failed == 0


def test_default_scenario_end_to_end_at_the_limit(my_limiter: type[Strategy]) -> None:
    sc = scenarios.load("default")  # = steady: 60 jobs at once, sliding log 20 per second, 10 ms latency
    r = end_to_end(my_limiter, sc)
    m = r.metrics
    assert (m.succeeded, m.throttled, m.errors) == (60, 0, 0)
    assert m.peak_window_count == (20,) and m.burst_ratio == 1.0
    assert arrival_times(r) == pytest.approx([0.0525 * k for k in range(60)], abs=TICKS)  # 5 % margin


def test_slow_responses_do_not_become_bursts(my_limiter: type[Strategy]) -> None:
    tl = drive(my_limiter(quota(10, concurrency=2)), 30, latency=lambda j: 1.0 if j.id < 2 else 0.01)
    assert tl.peak(1.0) == 10 and tl.peak_in_flight == 2


def test_the_documented_command(my_limiter: type[Strategy], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # python -m bench run --strategies my_limiter:MyLimiter --clock virtual (PYTHONPATH: the fixture), with the
    # default network/timer profile: its 5 % margin keeps late timers and jitter from sharing a window.
    assert cli_main(["run", "--strategies", "my_limiter:MyLimiter", "--clock", "virtual",
                     "--out", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "my-limiter" in out.out and re.search(r"60/60 ok +0 × 429", out.err)
    assert len(list(tmp_path.glob("*/results.json"))) == 1
