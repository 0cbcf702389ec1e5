"""The harness's ceiling: what a scenario asks for, the warning rule, and a calibration in virtual time."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from bench import ceiling, clock, scenarios
from bench.transport import AsgiServer


def sc(**workload: object) -> scenarios.Scenario:
    data = {"server": {"latency_ms": 1, "quota": [{"limit": 20, "window_s": 1.0}]},
            "workload": {"jobs": 10, **workload}}
    return scenarios.from_dict(data, "s")


def test_requested_rate_is_the_release_rate_else_the_declared_quota() -> None:
    assert ceiling.requested_rate(sc(release="rate", rate=700)) == 700.0
    assert ceiling.requested_rate(sc()) == 20.0  # batch: what a compliant strategy paces at
    no_quota = scenarios.from_dict({"workload": {"jobs": 10}}, "s")
    assert ceiling.requested_rate(no_quota) is None


@pytest.mark.parametrize(("top", "asked", "warns"), [(1000.0, 500.0, False), (1000.0, 500.1, True),
                                                     (1000.0, None, False), (0.0, 1.0, True)])
def test_warning_above_half_the_ceiling(top: float, asked: float | None, warns: bool) -> None:
    assert (ceiling.warning(top, asked) is not None) == warns


def test_calibration_counts_what_it_sent_and_stays_in_budget() -> None:
    # Virtual time and a reset to no latency: every request answers at once, so the request cap (not the
    # budget) ends it: exactly `requests` successes in zero elapsed time.
    async def go() -> ceiling.Calibration:
        return await ceiling.measure(AsgiServer(), sc(release="rate", rate=100), requests=120, concurrency=7)

    c = clock.run(go())
    assert (c.requests, c.concurrency, c.requested_rps) == (120, 7, 100.0)
    assert c.elapsed_s == 0.0 and c.ceiling_rps is None  # no time elapsed: no rate measurable, withheld
    assert c.warning is None


def test_the_report_repeats_the_calibration_warning() -> None:
    from bench import report

    cal = ceiling.Calibration(400, 0.5, 50, 800.0, 1000.0, ceiling.warning(800.0, 1000.0))
    doc = {"meta": {"clock": "real", "transport": "http+aiohttp", "repeat": 1, "python": "3.11", "platform": "x",
                    "git_sha": None, "created_utc": "now", "scenario": {"name": "s"}, "ceiling": cal.to_dict()},
           "runs": [], "complete": True}
    md = report.render_markdown(doc)
    assert "harness ceiling: the scenario asks for 1000/s, more than 50% of the harness ceiling of 800/s" in md
    assert "harness ceiling: the scenario asks for 1000/s" in report.render_html(doc)


class _SlowServer(AsgiServer):
    """Answers every request after a second (a slow, loaded machine)."""

    def client(self, limits: object = None) -> Any:
        async def slow(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(1.0)
            return httpx.Response(200)

        return httpx.AsyncClient(transport=httpx.MockTransport(slow), base_url="http://mock")


def test_a_calibration_that_cannot_finish_in_its_budget_is_withheld_not_raised() -> None:
    async def go() -> ceiling.Calibration:
        return await ceiling.measure(_SlowServer(), sc(release="rate", rate=100), concurrency=3, budget_s=0.01)

    c = clock.run(go())  # today: TimeoutError out of the warm-up, the whole benchmark aborted
    assert c.ceiling_rps is None and c.requests == 0 and c.requested_rps == 100.0
    assert c.warning is not None and "could not be measured (timed out; budget 0.01 s)" in c.warning
