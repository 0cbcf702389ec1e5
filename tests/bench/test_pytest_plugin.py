"""The pytest plugin (bench.pytest_plugin): the mock_api fixture, its assertions, and the documented example
(examples/pytest_plugin) — which must pass for the smooth client and fail when the same client bursts."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench import metrics
from bench.pytest_plugin import MockAPIFactory, assert_max_in_window, assert_no_429, peak_in_window
from mock_server.log import Arrival

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pytest_plugin"


def copy_example(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, burst: int | None = None) -> None:
    # This session collects the example too: forget its modules (restored afterwards) so the copy is imported.
    for name in ("paced_client", "test_paced_client"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    client = (EXAMPLE / "paced_client.py").read_text()
    if burst is not None:
        assert client.count("\nBURST = 1\n") == 1
        client = client.replace("\nBURST = 1\n", f"\nBURST = {burst}\n")
    pytester.makepyfile(paced_client=client, test_paced_client=(EXAMPLE / "test_paced_client.py").read_text())


def test_the_example_passes_for_the_smooth_client(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_example(pytester, monkeypatch)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_example_fails_when_the_client_bursts(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # The test of the test: the same client configured as AsyncLimiter(5, 1) (bursts of 5) must be caught.
    copy_example(pytester, monkeypatch, burst=5)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    # A 5/s sliding log rejects what the burst put over the limit: the first assertion to fail is "no 429".
    result.stdout.fnmatch_lines(["*AssertionError: * of 20 requests rejected (429): first at t=*"])


def test_the_window_assertion_catches_the_burst_even_without_429s(mock_api: MockAPIFactory,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A token-bucket API that allows bursts of 10 accepts the bursty client (no 429)…
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from paced_client import fetch_all

    api = mock_api(limit=5, window_s=1.0, algorithm="token-bucket", burst=10)

    async def main(client: httpx.AsyncClient) -> list[int]:
        return await fetch_all(client, 20, rate=5.0, burst=5)

    assert api.run(main) == [200] * 20
    api.assert_no_429()
    # …but the sliding-window check sees 5 at once plus one every 0.2 s: 9 in the first second.
    with pytest.raises(AssertionError, match=r"^9 arrivals in one 1 s window \(limit 5\): arrival 6 "):
        api.assert_max_in_window(5, 1.0)


def test_in_process_runs_in_virtual_time_from_a_fresh_state(mock_api: MockAPIFactory) -> None:
    api = mock_api(limit=2, window_s=10.0)

    async def paced(client: httpx.AsyncClient) -> list[tuple[float, int]]:
        loop = asyncio.get_running_loop()
        out = []
        for _ in range(3):
            out.append((loop.time(), (await client.get("/v1/items")).status_code))
            await asyncio.sleep(10)
        return out

    wall0 = time.perf_counter()
    assert api.run(paced) == [(0.0, 200), (10.0, 200), (20.0, 200)]
    assert time.perf_counter() - wall0 < 5  # 30 virtual seconds
    assert [(a.t, a.status) for a in api.arrivals] == [(0.0, 200), (10.0, 200), (20.0, 200)]

    async def burst(client: httpx.AsyncClient) -> list[int]:
        return [(await client.get("/v1/items")).status_code for _ in range(3)]

    # A second run starts from a fresh quota and an empty log.
    assert api.run(burst) == [200, 200, 429]
    assert [a.status for a in api.arrivals] == [200, 200, 429]
    with pytest.raises(AssertionError, match=r"1 of 3 requests rejected \(429\): first at t=0.000000 s"):
        api.assert_no_429()


def test_own_client_through_url_and_transport_and_a_full_config(mock_api: MockAPIFactory) -> None:
    api = mock_api(config={"quota": [{"limit": 1, "window_s": 60}], "headers": {"reject_status": 403}})
    assert api.rejected_statuses == (403, 429)

    async def main(_: httpx.AsyncClient) -> list[int]:
        async with httpx.AsyncClient(transport=api.transport, base_url=api.url) as mine:
            return [(await mine.get("/x", headers={"x-request-id": f"r{i}"})).status_code for i in range(2)]

    assert api.run(main) == [200, 403]
    assert [a.request_id for a in api.arrivals] == ["r0", "r1"]
    with pytest.raises(AssertionError, match=r"rejected \(403/429\): first at t=0.000000 s \(request id 'r1'\)"):
        api.assert_no_429()


def test_bad_fixture_arguments(mock_api: MockAPIFactory) -> None:
    with pytest.raises(TypeError, match="give a quota"):
        mock_api()
    with pytest.raises(TypeError, match="either limit/window_s or config"):
        mock_api(5, config={})
    with pytest.raises(ValueError, match="algorithm"):
        mock_api(5, algorithm="nope")


def test_window_count_is_the_metrics_one() -> None:
    # By hand: arrivals at 0, 0.5, 0.999, 1.0, 1.2; [0, 1) holds 3; [0.5, 1.5) holds 4 (0.5, 0.999, 1.0, 1.2).
    times = [0.0, 0.5, 0.999, 1.0, 1.2]
    arrivals = [Arrival(str(i), round(t * 1e9), 200) for i, t in enumerate(times)]
    assert peak_in_window(arrivals, 1.0) == 4 == metrics.peak_window_count(times, 1.0)
    assert_max_in_window(arrivals, 4, 1.0)
    with pytest.raises(AssertionError, match=r"^4 arrivals in one 1 s window \(limit 3\): arrival 5 \(request id "
                                             r"'4'\) at t=1.200000 s was one too many"):
        assert_max_in_window(arrivals, 3, 1.0)
    # Exactly one window apart is two windows (half-open), as the server counts.
    assert_max_in_window([Arrival("a", 0, 200), Arrival("b", 1_000_000_000, 200)], 1, 1.0)
    assert_no_429(arrivals)


@pytest.mark.realserver
def test_real_server_mode(mock_api: MockAPIFactory) -> None:
    api = mock_api(limit=3, window_s=60.0, real=True)
    assert api.url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError, match="no in-process transport"):
        _ = api.transport

    async def burst(client: httpx.AsyncClient) -> list[int]:
        return [(await client.get("/v1/items")).status_code for _ in range(4)]

    assert api.run(burst) == [200, 200, 200, 429]
    arrivals = api.arrivals
    assert [a.status for a in arrivals] == [200, 200, 200, 429]
    assert all(0 <= a.t < 30 for a in arrivals)
    with pytest.raises(AssertionError, match="4 arrivals in one 60 s window"):
        api.assert_max_in_window(3, 60.0)
    # A user's own client, synchronous, by URL; then a reset gives a fresh quota and log.
    api.reset()
    assert httpx.get(f"{api.url}/v1/items").status_code == 200
    assert [a.status for a in api.arrivals] == [200]
