"""httpx connection-pool limits as the only limiter: ``httpx.Limits(max_connections=concurrency)``.

The strategy fires every job the moment it is released (``for_each`` + ``send``) and leaves the
limiting to the harness's ``httpx.AsyncClient``, built with :attr:`HttpxLimits.client_limits`: at
most ``quota.concurrency`` connections, so at most that many requests on the wire; the others wait
for a connection inside httpx (its pool timeout is unbounded in the harness). Like ``semaphore`` it
caps concurrency, not rate (``concurrency / latency`` per second), and the waiting happens where the
strategy cannot see it.

Pool limits need connections: under the in-process ASGI transport (virtual mode) there are none, so
the limits do not apply and this behaves exactly like ``unlimited``. Only real-server runs
(``--clock real``) show its effect.
"""

from __future__ import annotations

import httpx

from strategies.base import Jobs, Quota, Send, Strategy, for_each

__all__ = ["HttpxLimits"]


class HttpxLimits(Strategy):
    """``client_limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)``, ``c = quota.concurrency``.

    The runner reads :attr:`client_limits` after construction and builds its client with it:

        >>> from strategies.base import Quota, Tier
        >>> HttpxLimits(Quota((Tier(20, 1.0),), concurrency=5)).client_limits
        Limits(max_connections=5, max_keepalive_connections=5, keepalive_expiry=5.0)
    """

    name = "httpx-limits"
    description = "httpx.Limits(max_connections=concurrency) on the client, no rate limit (real server only)"

    def __init__(self, quota: Quota) -> None:
        super().__init__(quota)
        # Keep-alive for every allowed connection, so the pool never closes and reopens connections.
        self.client_limits = httpx.Limits(
            max_connections=quota.concurrency, max_keepalive_connections=quota.concurrency
        )

    async def run(self, jobs: Jobs, send: Send) -> None:
        await for_each(jobs, send)
