"""How long ``bench report`` takes (pytest-benchmark; ``make bench-report``).

Targets (issue 7 item 8, issue 8 item 5): the report of 28 strategies in under 3 s; a run with 1-hour
windows and 6 000 jobs in under 10 s, with memory that does not grow with the drawing. The run
directories are synthetic (``tests/bench/runfiles.py``: even pacing at the limit, every third strategy
bursting 2 L at the start), written once per session; each round rebuilds report.md, report.html and
the charts from disk, as ``python -m bench report`` does.

Two measurements per run: ``write_report`` in this process (after a warm-up round, so matplotlib is
already imported), and the whole command in a fresh interpreter (start-up and imports included; its peak
RSS is recorded in ``extra_info["max_rss_mb"]``). Not under ``tests/``: pyproject's ``--benchmark-skip``
skips it unless ``--benchmark-only`` is given.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.cli import write_report
from tests.bench.runfiles import big_run

#: (id, strategies, jobs, limit, window_s): today's default scenario's size, a 100-per-minute run and
#: a 5 000-per-hour one (6 000 jobs: 72 min of arrivals per strategy).
RUNS = [
    ("28x200 at 20 per 1 s", 28, 200, 20, 1.0),
    ("28x1000 at 100 per 60 s", 28, 1000, 100, 60.0),
    ("28x6000 at 5000 per 3600 s", 28, 6000, 5000, 3600.0),
]


@pytest.fixture(scope="session")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    parent = tmp_path_factory.mktemp("report-speed")
    return {rid: big_run(parent, n, jobs, limit, window) for rid, n, jobs, limit, window in RUNS}


@pytest.mark.parametrize("rid", [r[0] for r in RUNS])
def test_write_report(benchmark: Any, run_dirs: dict[str, Path], rid: str) -> None:
    run_dir = run_dirs[rid]
    benchmark.extra_info.update(run=rid, what="write_report() in process")
    benchmark.pedantic(write_report, args=(run_dir,), rounds=3, warmup_rounds=1)
    assert (run_dir / "charts" / "burst.png").stat().st_size > 1000


@pytest.mark.parametrize("rid", [r[0] for r in RUNS])
def test_report_command(benchmark: Any, run_dirs: dict[str, Path], rid: str) -> None:
    run_dir = run_dirs[rid]

    def command() -> None:
        subprocess.run([sys.executable, "-m", "bench", "report", str(run_dir)], check=True,
                       stdout=subprocess.DEVNULL)

    benchmark.extra_info.update(run=rid, what="python -m bench report, fresh interpreter")
    benchmark.pedantic(command, rounds=3, warmup_rounds=0)
    # The largest peak RSS of any child so far: the runs go in increasing size, so it is this run's.
    benchmark.extra_info["max_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
