"""report.html in a real browser (Debian's headless Chromium, tests/bench/browser.py): it loads without console
errors, requests nothing (charts are embedded), and every chart image decodes — also once report.html alone is
copied somewhere else. Skipped, saying why, where Chromium is not installed (`make system-deps` installs it)."""

from __future__ import annotations

import shutil

import pytest

from bench.cli import write_report
from tests.bench import browser
from tests.bench.runfiles import paced, write_run

needs_chromium = pytest.mark.skipif(browser.missing() is not None, reason=browser.missing() or "")


#: A page the checks must fail: an undecodable image, a request to the network, a console error.
BAD = ('<!doctype html><html><body><img alt="bad" src="data:image/png;base64,AAAA">'
       '<img alt="remote" src="http://127.0.0.1:9/x.png">'
       "<script>console.error('boom')</script></body></html>")


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[browser.Page, list[str]]]:
    """report.html where it was written, the same file alone in another directory, and the bad page: loaded
    in one browser (starting Chromium is most of the time), which has ended before any test runs."""
    run = write_run(tmp_path_factory.mktemp("runs"), "browser", [(4, 1.0)],
                    {"token-bucket": paced(8, 4.0), "unlimited": [(0.0, 200)] * 4 + [(0.0, 429)] * 4})
    write_report(run)
    alone = tmp_path_factory.mktemp("elsewhere") / "report.html"
    shutil.copy(run / "report.html", alone)
    bad = tmp_path_factory.mktemp("bad") / "bad.html"
    bad.write_text(BAD)
    charts = sorted(str(p.relative_to(run)) for p in (run / "charts").glob("*.png"))
    pages = browser.open_pages([run / "report.html", alone, bad])
    return {"in place": (pages[0], charts), "alone": (pages[1], charts), "bad": (pages[2], [])}


def check(page: browser.Page, charts: list[str]) -> None:
    assert page.errors == ()
    assert page.requests == ()
    assert sorted(alt for alt, *_ in page.images) == charts  # one <img> per chart, nothing else
    for alt, complete, width, height in page.images:
        assert complete and width > 100 and height > 100, f"{alt} did not decode: {width}x{height}"


@needs_chromium
def test_report_html_loads_offline_and_every_chart_decodes(seen: dict[str, tuple[browser.Page, list[str]]]) -> None:
    page, charts = seen["in place"]
    assert len(charts) >= 3  # burst, latency, frontier
    check(page, charts)


@needs_chromium
def test_report_html_alone_in_another_directory(seen: dict[str, tuple[browser.Page, list[str]]]) -> None:
    check(*seen["alone"])


@needs_chromium
def test_a_broken_image_and_a_network_request_are_caught(seen: dict[str, tuple[browser.Page, list[str]]]) -> None:
    # The checks above can fail: a page with an undecodable image and a fetch is reported as such.
    page, _ = seen["bad"]
    assert any("boom" in e for e in page.errors)
    assert "http://127.0.0.1:9/x.png" in page.requests
    assert {alt: w for alt, _, w, _ in page.images} == {"bad": 0, "remote": 0}


def test_without_chromium_the_reason_names_the_package_and_the_make_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    why = browser.missing()
    assert why is not None and "not installed" in why and "make system-deps" in why and "'chromium'" in why
