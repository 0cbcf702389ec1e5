"""Testing a rate-limited client with ratebench's pytest plugin (docs/pytest-plugin.md).

``mock_api`` comes with ratebench (a pytest11 entry point): nothing to import or configure. The mock API
counts requests by the server's clock, as a real API does, and the assertions read its arrival log.
"""

from __future__ import annotations

import httpx
from paced_client import fetch_all

from bench.pytest_plugin import MockAPIFactory  # only for the type annotation

LIMIT, WINDOW_S = 5, 1.0  # the API's documented quota: 5 requests per second (sliding window)


def test_client_keeps_to_the_quota(mock_api: MockAPIFactory) -> None:
    api = mock_api(limit=LIMIT, window_s=WINDOW_S, latency_ms=20)

    async def main(client: httpx.AsyncClient) -> list[int]:
        return await fetch_all(client, 20, rate=LIMIT / WINDOW_S)

    statuses = api.run(main)  # in process, in virtual time: ~4 s of pacing in milliseconds of wall time

    api.assert_no_429()
    api.assert_max_in_window(LIMIT, WINDOW_S)
    assert statuses == [200] * 20
    assert len(api.arrivals) == 20
