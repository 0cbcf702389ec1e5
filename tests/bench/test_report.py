"""report.md and report.html embed the charts; report.html needs no other file and no network."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from bench import charts, report, results
from bench.cli import main, write_report
from tests.bench.runfiles import paced, write_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("runs"), "small", [(5, 1.0)],
                     {"token-bucket": paced(10, 5.0), "unlimited": [(0.0, 200)] * 5 + [(0.0, 429)] * 5})


def test_report_md_links_each_chart_file(run_dir: Path) -> None:
    write_report(run_dir)
    md = (run_dir / "report.md").read_text()
    for chart in (charts.BURST, charts.LATENCY, charts.FRONTIER):
        assert f"![{chart}]({chart})" in md and (run_dir / chart).is_file()


def test_report_html_embeds_the_charts_as_data_uris(run_dir: Path) -> None:
    write_report(run_dir)
    page = (run_dir / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) == 3  # burst, latency, frontier
    for src, chart in zip(sources, (charts.BURST, charts.LATENCY, charts.FRONTIER), strict=True):
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.removeprefix("data:image/png;base64,")) == (run_dir / chart).read_bytes()
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from anywhere


def test_html_without_a_base_links_the_files(run_dir: Path) -> None:
    page = report.render_html(results.load(run_dir), [charts.BURST])
    assert f'<img src="{charts.BURST}"' in page


def test_a_report_that_fails_is_reported_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('name = "s"\n[server]\nlatency_ms = 1\n[[server.quota]]\nlimit = 5\nwindow_s = 1.0\n'
                        '[workload]\njobs = 5\n')

    def broken(run_dir: Path, doc: object) -> list[str]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(charts, "write_all", broken)
    out = tmp_path / "o"
    assert main(["run", "--scenario", str(scenario), "--strategies", "token-bucket", "--clock", "virtual",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    (run,) = out.iterdir()
    assert "the report was not written (disk full)" in err and f"ratebench report {run}" in err
    # The measurements themselves are complete and kept; only the derived report is missing.
    assert results.load(run)["complete"] is True and not (run / "report.md").exists()


def test_a_run_whose_burst_ratio_was_withheld_is_not_ranked_compliant() -> None:
    # Both finished every job; "withheld" had an incomplete server log, so its burst ratio is null:
    # nothing vouches that it stayed under the limit, so it cannot rank among the compliant.
    def run(name: str, burst: float | None, efficiency: float) -> dict[str, object]:
        return {"strategy": name, "repeat": 0, "status": "ok", "error": None if burst is not None else
                "server arrival log incomplete: window counts withheld",
                "metrics": {"completion": 1.0, "burst_ratio": burst, "throttled": 0, "efficiency": efficiency,
                            "throughput_rps": 10.0}}

    rows = report.summarise([run("withheld", None, 0.99), run("measured", 1.0, 0.5)])
    assert [(r["strategy"], r["compliant"]) for r in rows] == [("measured", True), ("withheld", False)]


def test_the_rejection_column_is_named_after_the_servers_status_and_done_rounds_down() -> None:
    meta = {"resolved": {"server": {"headers": {"reject_status": 403}}}}
    run = {"strategy": "s", "repeat": 0, "status": "ok",
           "metrics": {"completion": 0.999, "throttled": 3, "burst_ratio": 1.0}}
    rows = report.summarise([run], meta)
    head, _, line = report.text_table(rows, report.reject_status(meta)).splitlines()[:3]
    assert "403s" in head.split() and "429s" not in head.split()
    assert "99%" in line.split() and "100%" not in line  # 999 of 1000 jobs is not all of them
    assert "| 403s |" in report.markdown_table(rows, 403)
    assert report.reject_status({}) == 429 and report.reject_status({"resolved": {"server": {}}}) == 429


def test_a_skipped_row_shows_no_figures_and_is_not_red() -> None:
    from bench import terminal

    row = {"rank": "–", "strategy": "r", "status": "skipped", "completion": 0.0, "throttled": 0, "compliant": False,
           "skipped": "needs redis"}
    cells = report._cells(row)
    assert cells[2] == "skipped" and set(cells[3:]) == {"–"}
    assert terminal.annotate("h\n-\nr", [row], color=True) == "h\n-\nr"
    assert terminal.annotate("h\n-\nr", [row], color=False) == "h\n-\nr  ‹ skipped"


def test_latency_of_a_row_whose_jobs_gave_up_is_marked_with_how_many_it_covers(run_dir: Path) -> None:
    # "dropper" sent 2 of 10 jobs (8 missed their deadline): its latency, over those 2, looks best; it is marked.
    def run(name: str, dropped: int, p50: float) -> dict[str, object]:
        return {"strategy": name, "repeat": 0, "status": "ok",
                "metrics": {"requests": 10, "completion": (10 - dropped) / 10, "throttled": 0, "burst_ratio": 1.0,
                            "latency_p50_ms": p50, "latency_p99_ms": p50, "jobs_dropped": dropped,
                            "jobs_cancelled": 0}}

    rows = report.summarise([run("dropper", 8, 5.0), run("keeper", 0, 500.0)])
    text = report.text_table(rows)
    lines = {ln.split()[1]: ln for ln in text.splitlines()[2:4]}
    assert "5 §" in lines["dropper"] and "§" not in lines["keeper"]
    legend = "§ latency of the jobs sent only (docs/metrics.md): dropper: latency of the 2 jobs done; 8 gave up."
    assert text.endswith(legend)
    assert "| 5 § |" in report.markdown_table(rows) and report.gave_up_legend(rows) == [legend]
    doc = results.load(run_dir)
    doc["runs"][0]["metrics"] |= {"jobs_dropped": 1, "jobs_cancelled": 2}
    n = doc["runs"][0]["metrics"]["requests"] - 3
    name = doc["runs"][0]["strategy"]
    for page in (report.render_markdown(doc), report.render_html(doc)):
        assert f"{name}: latency of the {n} jobs done; 3 gave up" in page
