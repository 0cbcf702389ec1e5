"""report.html in a real browser (Debian's headless Chromium, tests/bench/browser.py): it loads without console
errors, requests nothing (charts are embedded), and every chart image decodes — also once report.html alone is
copied somewhere else. Skipped, saying why, where Chromium is not installed (`make system-deps` installs it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.cli import write_report
from tests.bench import browser
from tests.bench.runfiles import paced, write_run

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=browser.missing() or "")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = write_run(tmp_path_factory.mktemp("runs"), "browser", [(4, 1.0)],
                    {"token-bucket": paced(8, 4.0), "unlimited": [(0.0, 200)] * 4 + [(0.0, 429)] * 4})
    write_report(run)
    return run


def charts_in(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in (run_dir / "charts").glob("*.png"))


def check(page: browser.Page, charts: list[str]) -> None:
    assert page.errors == ()
    assert page.requests == ()
    assert sorted(alt for alt, *_ in page.images) == charts  # one <img> per chart, nothing else
    for alt, complete, width, height in page.images:
        assert complete and width > 100 and height > 100, f"{alt} did not decode: {width}x{height}"


def test_report_html_loads_offline_and_every_chart_decodes(run_dir: Path) -> None:
    charts = charts_in(run_dir)
    assert len(charts) >= 3  # burst, latency, frontier
    check(browser.open_page(run_dir / "report.html"), charts)


def test_report_html_alone_in_another_directory(run_dir: Path, tmp_path: Path) -> None:
    alone = tmp_path / "elsewhere" / "report.html"
    alone.parent.mkdir()
    shutil.copy(run_dir / "report.html", alone)
    check(browser.open_page(alone), charts_in(run_dir))


def test_a_broken_image_and_a_network_request_are_caught(tmp_path: Path) -> None:
    # The checks above can fail: a page with an undecodable image and a fetch is reported as such.
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><html><body><img alt="bad" src="data:image/png;base64,AAAA">'
                    '<img alt="remote" src="http://127.0.0.1:9/x.png">'
                    "<script>console.error('boom')</script></body></html>")
    seen = browser.open_page(page)
    assert any("boom" in e for e in seen.errors)
    assert "http://127.0.0.1:9/x.png" in seen.requests
    assert {alt: w for alt, _, w, _ in seen.images} == {"bad": 0, "remote": 0}
