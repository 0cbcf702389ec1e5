"""The real thing: uvicorn in a child process on 127.0.0.1, one shared monotonic clock.

Only robust facts are asserted in real time: ordering on the shared clock, joins and counts.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench import report, results, scenarios
from bench.runner import run_one
from bench.transport import TRANSPORTS, RealServer, ServerError
from strategies.base import Jobs, Send, Strategy
from strategies.registry import resolve

pytestmark = pytest.mark.realserver

SCENARIO = scenarios.from_dict(
    {"server": {"latency_ms": 2, "quota": [{"limit": 10, "window_s": 1.0}]}, "workload": {"jobs": 30},
     "client": {"concurrency": 10, "timeout_s": 30}},
    "real-small",
)


def test_real_server_round_trip_joins_server_arrivals() -> None:
    with RealServer() as server:
        r = asyncio.run(run_one(resolve("unlimited"), SCENARIO, server))
        r2 = asyncio.run(run_one(resolve("unlimited"), SCENARIO, server))
    assert r.status == "ok" and len(r.attempts) == 30
    # Fresh server state per run: each run gets exactly the quota's 10 through, the rest 429.
    assert (r.metrics.succeeded, r.metrics.throttled) == (10, 20)
    assert (r2.metrics.succeeded, r2.metrics.throttled) == (10, 20)
    for a in r.attempts:
        # Client and server read one system-wide monotonic clock: sent <= arrival <= done.
        assert a.arrival_s is not None
        assert a.sent_s <= a.arrival_s <= a.done_s
    # All 30 are sent at once, a burst past the limit. Not "== (30,)": on a loaded machine the arrivals
    # can spread past the window, so only what the configuration guarantees is asserted.
    (peak,) = r.metrics.peak_window_count  # one tier
    assert SCENARIO.server.quota[0].limit < peak <= len(r.attempts)


def test_server_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("latency_ms = -5\n")
    with pytest.raises(ServerError, match=r"mock server exited with 2: .*latency_ms"), RealServer(config=bad):
        pass


# --- others on the machine: foreign traffic and outside resets ------------------------------------------

QUIET = scenarios.from_dict(
    {"server": {"quota": [{"limit": 1000, "window_s": 1.0}]}, "workload": {"jobs": 10},
     "client": {"concurrency": 1, "timeout_s": 60}},
    "quiet",
)

#: A second process that sends five API requests, posing as the run's own first five attempts.
FOREIGN = """
import os, httpx
for i in range(5):
    httpx.get(os.environ["URL"] + "/v1/items", headers={"x-request-id": f"{i}.1"})
"""
#: A second process that resets the server mid-run; it exits 0 when the answer is the one expected.
RESET = """
import os, sys, httpx
token = os.environ.get("TOKEN")
r = httpx.post(os.environ["URL"] + "/__admin/reset", json={},
               headers={"authorization": f"Bearer {token}"} if token else {})
sys.exit(0 if r.status_code == int(os.environ["EXPECT"]) else r.status_code)
"""


def interloper(code: str, env: dict[str, str]) -> type[Strategy]:
    """A sequential strategy that, before its sixth job, runs ``code`` in a second process and waits for it."""

    class Interloper(Strategy):
        name = "interloper"

        async def run(self, jobs: Jobs, send: Send) -> None:
            async for job in jobs:
                if job.id == 5:
                    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, env={**os.environ, **env})
                    if await asyncio.wait_for(proc.wait(), 60) != 0:
                        raise RuntimeError(f"the second process exited with {proc.returncode}")
                await send(job)

    return Interloper


def test_foreign_traffic_during_a_real_run_is_counted_and_reported() -> None:
    with RealServer() as server:
        r = asyncio.run(run_one(interloper(FOREIGN, {"URL": server.base_url}), QUIET, server))
    assert r.status == "ok", r.error
    assert r.foreign_arrivals == 5 and r.outside_resets == 0
    assert r.disturbed == "5 foreign arrivals (requests not from this run)"
    # The five impostors took no attempt's place in the join: each attempt has its own arrival.
    assert len(r.arrivals) == 15 and all(a.arrival_s is not None for a in r.attempts)
    entry = results.run_entry(r)
    assert (entry["foreign_arrivals"], entry["outside_resets"]) == (5, 0)
    doc = {"meta": {"scenario": {"name": "quiet"}, "clock": "real", "transport": "http", "repeat": 1,
                    "python": "3", "platform": "p", "git_sha": None, "created_utc": "t"},
           "complete": True, "runs": [entry]}
    md = report.render_markdown(doc)
    assert "## Runs disturbed from outside" in md and "`interloper` repeat 0: 5 foreign arrivals" in md
    assert "Runs disturbed from outside" in report.render_html(doc)
    assert report.summarise(doc["runs"])[0]["compliant"] is False


def test_reset_from_a_second_process_during_a_real_run() -> None:
    with RealServer() as server:
        # Without the child's token: refused, and the run is untouched.
        refused = asyncio.run(run_one(interloper(RESET, {"URL": server.base_url, "EXPECT": "401"}), QUIET, server))
        # With it (a leaked token, or the user's own script): the run knows it was reset under its feet.
        leaked = asyncio.run(run_one(interloper(RESET, {"URL": server.base_url, "EXPECT": "200",
                                                        "TOKEN": server.token}), QUIET, server))
    assert refused.status == "ok" and refused.disturbed is None and "outside" not in (refused.error or "")
    assert len(refused.arrivals) == 10 and refused.metrics.burst_ratio is not None
    assert leaked.status == "ok" and leaked.outside_resets == 1
    assert leaked.disturbed == "1 outside reset(s) of the server during the run"
    assert "reset from outside" in (leaked.error or "")
    assert len(leaked.arrivals) == 5  # the log the reset started: the run's first five are gone
    assert leaked.metrics.burst_ratio is None  # withheld: a partial log would understate it


def test_exported_admin_token_does_not_break_a_real_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # README once suggested exporting MOCK_SERVER_ADMIN_TOKEN for the standalone server; the runner's child
    # inherited it, the runner sent none, and every real-mode run failed.
    monkeypatch.setenv("MOCK_SERVER_ADMIN_TOKEN", "for-my-own-server")
    with RealServer() as server:
        r = asyncio.run(run_one(resolve("unlimited"), QUIET, server))
    assert r.status == "ok" and r.metrics.succeeded == 10 and r.disturbed is None


def test_cli_real_run_records_transport_calibration_and_harness_lag(tmp_path: Path) -> None:
    from bench import results
    from bench.cli import main

    scenario = tmp_path / "tiny.toml"
    scenario.write_text('[server]\nlatency_ms = 1\n[[server.quota]]\nlimit = 3\nwindow_s = 1.0\n'
                        '[workload]\njobs = 6\n[client]\nconcurrency = 2\ntimeout_s = 30\n')
    out = tmp_path / "out"
    assert main(["run", "--scenario", str(scenario), "--strategies", "unlimited", "--transport", "httpx",
                 "--out", str(out)]) == 0
    (run_dir,) = list(out.iterdir())
    doc = results.load(run_dir)
    assert doc["meta"]["transport"] == "http+httpx"
    cal = doc["meta"]["ceiling"]
    assert cal["requests"] > 0 and cal["ceiling_rps"] > 0 and cal["requested_rps"] == 3.0
    (run,) = doc["runs"]
    assert run["harness"]["release_lag"]["count"] == 6 and run["harness"]["send_lag"]["count"] == 6
    assert run["harness"]["transit_judged"] is True  # unlimited sets no client_limits


def test_unknown_transport_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    with pytest.raises(SystemExit) as e:
        main(["run", "--transport", "carrier-pigeon"])
    assert e.value.code == 2 and "carrier-pigeon" in capsys.readouterr().err
    with pytest.raises(ValueError, match="carrier-pigeon"):
        RealServer(transport="carrier-pigeon")


def test_lean_client_gives_the_same_response_as_httpx() -> None:
    # The harness's get() through LeanClient and through the plain httpx client: same status, headers the
    # strategies read, body, request, and the request hooks still run.
    async def both(server: RealServer) -> list[tuple[int, str | None, bytes, str, float, int]]:
        out = []
        for name in ("aiohttp-lean", "aiohttp"):
            hooked: list[str] = []

            async def hook(request: httpx.Request, hooked: list[str] = hooked) -> None:
                hooked.append(request.headers["x-request-id"])

            async with TRANSPORTS[name](server.base_url, None) as c:
                c.event_hooks["request"].append(hook)
                r = await c.get("/v1/items", headers={"x-request-id": "7.1"})
                out.append((r.status_code, r.headers.get("content-type"), r.content, str(r.request.url),
                            r.elapsed.total_seconds(), len(hooked)))
        return out

    with RealServer() as server:
        lean, full = asyncio.run(both(server))
    assert lean[:4] == full[:4] and lean[0] == 200
    assert lean[4] >= 0 and lean[5] == full[5] == 1


class _FakeProxy:
    """A socket on 127.0.0.1 that records what connects to it (and answers nothing)."""

    def __init__(self) -> None:
        import socket
        import threading

        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.seen: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    self.seen.append(conn.recv(4096) or b"<connected>")
                except OSError:
                    self.seen.append(b"<connected>")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


@pytest.fixture
def env_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[_FakeProxy]:
    proxy = _FakeProxy()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_proxy_in_the_environment_never_sees_the_harness_traffic(env_proxy: _FakeProxy, transport: str) -> None:
    # The harness talks only to its own child on 127.0.0.1, admin token included: an HTTP proxy named in the
    # environment once received GET /__admin/config with the bearer token (and every request of the run).
    with RealServer(transport=transport) as server:
        r = asyncio.run(run_one(resolve("unlimited"), QUIET, server))
    assert r.status == "ok" and r.metrics.succeeded == 10
    assert env_proxy.seen == []


def test_proxy_in_the_environment_never_sees_a_cli_run_or_the_in_process_server(env_proxy: _FakeProxy,
                                                                                  tmp_path: Path) -> None:
    from bench.cli import main
    from bench.transport import AsgiServer

    scenario = tmp_path / "tiny.toml"
    scenario.write_text('[server]\nlatency_ms = 1\n[[server.quota]]\nlimit = 3\nwindow_s = 1.0\n'
                        '[workload]\njobs = 6\n[client]\nconcurrency = 2\ntimeout_s = 30\n')
    assert main(["run", "--scenario", str(scenario), "--strategies", "unlimited", "--out", str(tmp_path / "o")]) == 0
    r = asyncio.run(run_one(resolve("unlimited"), QUIET, AsgiServer()))
    assert r.status == "ok" and r.metrics.succeeded == 10
    assert env_proxy.seen == []
