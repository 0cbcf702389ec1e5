"""A small API client that keeps to a rate limit: the kind of code the ``mock_api`` fixture tests.

``fetch_all`` GETs ``/items/0`` … ``/items/n-1`` one after another through a token bucket refilled at
``rate`` per second. ``BURST`` is the bucket's capacity: how many requests may leave back to back after
an idle spell. At 1 the client is smooth — never more than ``rate`` requests in any one-second window.
Set it to ``rate`` and it is ``AsyncLimiter(rate, 1)``: ``rate`` at once, then one every ``1/rate``,
nearly twice the limit in the first second (test_paced_client.py catches that).
"""

from __future__ import annotations

import asyncio

import httpx

BURST = 1


async def fetch_all(client: httpx.AsyncClient, n: int, rate: float, burst: int = BURST) -> list[int]:
    """Fetch ``n`` items at most ``rate`` per second (bursts of ``burst``); returns the status codes."""
    loop = asyncio.get_running_loop()
    tokens, last = float(burst), loop.time()
    statuses = []
    for i in range(n):
        now = loop.time()
        tokens = min(burst, tokens + (now - last) * rate)
        last = now
        if tokens < 1:
            # Sleep until the next token is due (a scheduled wake-up, no polling).
            await asyncio.sleep((1 - tokens) / rate)
            tokens, last = 1.0, loop.time()
        tokens -= 1
        statuses.append((await client.get(f"/items/{i}")).status_code)
    return statuses
