"""The matrix report, from run directories written from fixed arrivals (tests/bench/runfiles.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench import matrix_report
from bench.cli import main
from tests.bench.runfiles import paced, write_run

#: Limit 5 per 1 s. "paced": 5 per second, always within it; "burst": all 10 at 0 (5 × 429 then retried later,
#: modelled as arrivals only: 5 accepted, 5 rejected, so not every job done); "slow": 2.5 per second.
OVER = [(0.0, 200)] * 5 + [(0.0, 429)] * 5


@pytest.fixture(scope="module")
def matrix_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("matrix")
    write_run(root, "steady", [(5, 1.0)], {"paced": paced(10, 5.0), "slow": paced(10, 2.5), "burst": OVER})
    # A second scenario where "slow" breaks the limit and "burst" behaves.
    write_run(root, "other", [(5, 1.0)], {"paced": paced(10, 5.0), "slow": OVER, "burst": paced(10, 4.0)})
    (root / "matrix.json").write_text(json.dumps({"schema": 1, "kind": "matrix", "scenarios": ["steady", "other"]}))
    return root


def test_the_matrix_report_names_the_verdicts_and_the_robust_choice(matrix_dir: Path) -> None:
    text = matrix_report.write(matrix_dir)
    assert text.splitlines()[0].startswith("robust choice: paced — compliant and complete in all 2 scenarios")
    md = (matrix_dir / "report.md").read_text()
    assert md.index("## Verdict") < md.index("## Strategies × scenarios")
    assert "- [steady](" in md and "): best — paced" in md
    # Order of matrix.json, not of the directory names.
    assert md.index("- [steady]") < md.index("- [other]")
    # The table: a run that did not qualify is crossed, the robust choice in bold.
    assert "| **paced** | **5.5/s** | **5.5/s** |" in md  # throughput: no oracle in these files
    assert "| slow | 2.8/s | 500.0/s ✗ |" in md
    assert f"]({matrix_report.HEATMAP})" in md and (matrix_dir / matrix_report.HEATMAP).is_file()  # drawn, embedded


def test_the_heat_map_data_and_an_embedded_chart(matrix_dir: Path) -> None:
    _, runs, _ = matrix_report.load(matrix_dir)
    h = matrix_report.heatmap_data(matrix_report.verdicts(runs))
    assert h.scenarios == ("steady", "other") and h.strategies[0] == "paced"
    assert h.qualifies[h.strategies.index("slow")] == (True, False)
    assert h.qualifies[h.strategies.index("burst")] == (False, True)
    png = matrix_dir / matrix_report.HEATMAP
    png.parent.mkdir(exist_ok=True)
    png.write_bytes(b"\x89PNG\r\n\x1a\nnot really")  # what bench.plots would have written
    try:
        matrix_report.write(matrix_dir)
        page = (matrix_dir / "report.html").read_text()
        assert '<img src="data:image/png;base64,' in page  # embedded: the page stands alone
        assert not re.search(r'(src|href)="(https?:)?//', page)
    finally:
        png.unlink()


def test_ratebench_report_detects_a_matrix_directory(matrix_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(matrix_dir)]) == 0
    assert "robust choice: paced" in capsys.readouterr().out


def test_a_directory_without_runs_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "matrix.json").write_text('{"schema": 1, "kind": "matrix", "scenarios": []}')
    assert main(["report", str(tmp_path)]) == 2


def test_a_skipped_strategy_is_shown_as_skipped_not_as_a_failure(tmp_path: Path) -> None:
    """A strategy skipped in one scenario (status ``skipped``: e.g. Redis in virtual time) is "skipped" in the
    table, "no run" in the heat map (no cross), and its reason is the skip's; it is not counted as unfinished."""
    why = "needs a real redis-server"
    write_run(tmp_path, "steady", [(5, 1.0)], {"paced": paced(10, 5.0)}, skipped={"redis": why})
    write_run(tmp_path, "other", [(5, 1.0)], {"paced": paced(10, 5.0), "redis": paced(10, 5.0)})
    (tmp_path / "matrix.json").write_text(json.dumps({"schema": 1, "kind": "matrix", "scenarios": ["steady", "other"]}))
    _, runs, _ = matrix_report.load(tmp_path)
    m = matrix_report.verdicts(runs)
    h = matrix_report.heatmap_data(m)
    i = h.strategies.index("redis")
    assert h.ran[i] == (False, True) and h.ran[h.strategies.index("paced")] == (True, True)
    st = m.verdicts[0].standing("redis")
    assert st is not None and st.skipped and st.reason == f"skipped: {why}"
    matrix_report.write(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| redis | skipped | **5.5/s** |" in md
    assert '<td class="skip">skipped</td>' in (tmp_path / "report.html").read_text()
