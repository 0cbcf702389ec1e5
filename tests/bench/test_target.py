"""``run --target URL`` (bench.target): URL checks, the declared quota as the judge, client-side arrivals,
no admin request ever, and one real run against a loopback mock server the test starts itself."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import httpx
import pytest

from bench import clock, scenarios
from bench.cli import main
from bench.runner import run_one
from bench.target import TargetError, TargetServer, check_url, scenario_for
from bench.transport import RealServer
from mock_server.config import ServerConfig
from strategies.registry import resolve

# Documents 5/s; the (mock) server it is run against enforces the same.
SCENARIO = """
name = "target-test"
description = "5 per second, 8 jobs at once"
[server]
latency_ms = 5
[[server.quota]]
algorithm = "sliding-log"
limit = 5
window_s = 1.0
[workload]
jobs = 8
release = "batch"
[client]
concurrency = 8
timeout_s = 20
"""


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://127.0.0.1/x", "only http:// and https://"),
    ("file:///etc/passwd", "only http:// and https://"),
    ("/v1/items", "only http:// and https://"),
    ("http:///v1/items", "no host"),
    ("http://user:secret@127.0.0.1/x", "no user:password"),
])
def test_check_url_refuses(url: str, why: str) -> None:
    with pytest.raises(TargetError, match=why):
        check_url(url)


def test_declared_quota_is_the_judge() -> None:
    sc = scenarios.from_dict({"server": {"latency_ms": 30, "quota": [{"limit": 100, "window_s": 1.0}],
                                         "faults": {"error_rate": 0.5}},
                              "declared": {"quota": [{"limit": 10, "window_s": 1.0}]}, "workload": {"jobs": 5}}, "d")
    t = scenario_for(sc)
    assert [(q.limit, q.window_s) for q in t.server.quota] == [(10, 1.0)]
    assert t.server.latency_ms == 0.0 and t.server.faults.error_rate == 0.0
    assert t.declared == sc.declared and t.workload == sc.workload
    with pytest.raises(TargetError, match="declares no quota"):
        scenario_for(scenarios.from_dict({"workload": {"jobs": 5}}, "none"))


def _virtual_target(strategy: str, status: int = 200) -> tuple[list[httpx.URL], object]:
    """One virtual run against a target answered by ``httpx.MockTransport`` (no socket): every URL it saw."""
    seen: list[httpx.URL] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        await asyncio.sleep(0.01)  # 10 ms of service time (virtual)
        return httpx.Response(status)

    server = TargetServer("http://127.0.0.1:9/api/things?x=1", inner=lambda limits: httpx.MockTransport(answer))
    sc = scenario_for(scenarios.from_dict(_toml(), "target-test"))
    return seen, clock.run(run_one(resolve(strategy), sc, server))


def _toml() -> dict[str, object]:
    import tomllib

    return tomllib.loads(SCENARIO)


def test_every_request_goes_to_the_target_url_and_none_to_admin() -> None:
    seen, r = _virtual_target("aiolimiter-smooth")
    assert len(seen) == 8 and {str(u) for u in seen} == {"http://127.0.0.1:9/api/things?x=1"}
    assert r.status == "ok" and r.metrics.succeeded == 8  # type: ignore[attr-defined]


def test_burst_metrics_come_from_client_send_times() -> None:
    # aiolimiter-smooth at 5/s sends at 0, 0.2, ..., 1.4 s: at most 5 in any [t, t + 1 s) -> burst 1.0.
    _, smooth = _virtual_target("aiolimiter-smooth")
    assert smooth.metrics.peak_window_count == (5,) and smooth.metrics.burst_ratio == 1.0  # type: ignore[attr-defined]
    # The "arrival" of each attempt is the instant the client sent it (the same virtual instant), 0.2 s apart
    # (to within the virtual loop's 1 µs ticks).
    assert all(abs(a.arrival_s - a.sent_s) < 1e-6 for a in smooth.attempts)  # type: ignore[attr-defined]
    arrivals = [a.t_ns for a in smooth.arrivals]  # type: ignore[attr-defined]
    assert all(abs(t - k * 200_000_000) <= 10_000 for k, t in enumerate(arrivals)) and len(arrivals) == 8
    # unlimited sends all 8 at once: 8 in the first window, 8 / 5 = 1.6; the statuses come from the target.
    _, burst = _virtual_target("unlimited", status=429)
    m = burst.metrics  # type: ignore[attr-defined]
    assert m.peak_window_count == (8,) and m.burst_ratio == 1.6 and m.throttled == 8 and m.peak_concurrency == 8


@pytest.mark.parametrize(("argv", "why"), [
    (["--clock", "virtual", "--target", "http://127.0.0.1:9/x"], "real clock only"),
    (["--target", "ftp://127.0.0.1/x"], "only http:// and https://"),
])
def test_cli_refuses(argv: list[str], why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--strategies", "unlimited", "--out", str(tmp_path), *argv]) == 2
    assert why in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # refused before a run directory was made


@pytest.mark.realserver
def test_real_run_against_a_loopback_mock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "target-test.toml"
    scenario.write_text(SCENARIO)
    with RealServer(transport="httpx") as mock:  # `python -m mock_server` on 127.0.0.1, its own admin token
        # The test configures its server (6/s: room above the declared 5/s for a socket's jitter); the run must not.
        generation = asyncio.run(mock.reset(ServerConfig.from_dict({"latency_ms": 5,
                                                                    "quota": [{"limit": 6, "window_s": 1.0}]})))
        code = main(["run", "--scenario", str(scenario), "--strategies", "aiolimiter-smooth,unlimited",
                     "--target", f"{mock.base_url}/v1/items", "--out", str(tmp_path / "out")])
        log = asyncio.run(mock.arrivals())
    out = capsys.readouterr().out
    assert code == 0
    (run_dir,) = (tmp_path / "out").iterdir()
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["meta"]["arrivals_source"] == "client" and doc["meta"]["target"]["url"].endswith("/v1/items")
    assert doc["meta"]["transport"].startswith("target+")
    # Nothing reset the server, and every request it logged is one of the run's attempts (no admin, no ceiling).
    assert log.generation == generation
    with (run_dir / "requests.csv").open() as f:
        attempts = list(csv.DictReader(f))
    assert len(log.arrivals) == len(attempts) == 16
    runs = {r["strategy"]: r for r in doc["runs"]}
    assert runs["aiolimiter-smooth"]["metrics"]["throttled"] == 0
    # The mock's own 6/s let 6 of 8 through: the run waited a window after the first (nothing else resets it).
    assert runs["unlimited"]["metrics"]["throttled"] == 2
    assert runs["unlimited"]["metrics"]["peak_window_count"] == [8]  # all 8 sent at once, counted client-side
    # The table itself marks the client-side figures, in the terminal and in report.md.
    assert "1.60 ‡" in out and "‡ from client send times" in out
    report = (run_dir / "report.md").read_text()
    assert "| 1.60 ‡ |" in report and "target: http://127.0.0.1" in report


def test_report_marks_client_side_figures_in_the_table() -> None:
    from bench import report

    metrics = {"requests": 8, "succeeded": 8, "throttled": 0, "errors": 0, "completion": 1.0, "throughput_rps": 5.0,
               "burst_ratio": 1.0, "peak_window_count": [5], "first_window_count": [5], "efficiency": 0.99,
               "latency_p50_ms": 700.0, "latency_p99_ms": 1400.0, "cpu_s_per_1k": 1.0}
    runs = [{"strategy": "s", "repeat": 0, "status": "ok", "metrics": metrics}]
    client = report.text_table(report.summarise(runs, {"arrivals_source": "client"}))
    row = client.splitlines()[2]
    assert row.count("‡") == 3 and "1.00 ‡" in row and "5 ‡" in row  # burst, peak win, first win; nothing else
    assert "‡" not in report.text_table(report.summarise(runs, {}))
    assert report.client_legend(report.summarise(runs, {"arrivals_source": "client"})) == [report.CLIENT_LEGEND]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound, never listening, closed: a connection to it is refused
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("transport", ["aiohttp-lean", "aiohttp", "httpx"])
def test_a_refused_connection_is_not_an_arrival(transport: str) -> None:
    from bench import target

    url = f"http://127.0.0.1:{_closed_port()}/"
    server = target.TargetServer(url, transport)

    async def attempt() -> None:
        async with server.client() as c:
            with pytest.raises(httpx.TransportError) as raised:
                await c.get("/", headers={"x-request-id": "j0.0"})
            assert target.never_connected(raised.value)

    asyncio.run(attempt())
    assert asyncio.run(server.arrivals()).arrivals == []  # nothing reached a server: nothing counted


def test_an_unreachable_target_exits_2_naming_the_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    assert main(["run", "--scenario", "steady", "--strategies", "token-bucket", "--target", url,
                 "--out", str(tmp_path)]) == 2
    assert f"--target {url!r}: unreachable" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # refused before a run directory was made
