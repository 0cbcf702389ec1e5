"""The mock rate-limited API as a Starlette app.

Every path except ``/__admin/*`` is "the API": it answers 200 with a small JSON body or 429 with
``Retry-After`` and ``X-RateLimit-*`` headers, after the configured latency. Every arrival is logged.

The clock is injected: the default is ``time.monotonic`` (system-wide on Linux, so the client's
``loop.time()`` is directly comparable); under the virtual loop the runner passes ``loop.time``.

>>> from mock_server.config import ServerConfig
>>> app = create_app(ServerConfig())
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_server import policies
from mock_server.config import ConfigError, ServerConfig
from mock_server.log import Arrival, ArrivalLog
from mock_server.policies.base import ceil_seconds

Clock = Callable[[], float]


class MockState:
    """Everything a reset starts afresh: config, quota state, log, in-flight count."""

    def __init__(self, config: ServerConfig, clock: Clock) -> None:
        self.clock = clock
        self.reset(config)

    def reset(self, config: ServerConfig) -> None:
        self.config = config
        self.policy = policies.build(config.quota)
        self.log = ArrivalLog(config.log_limit)
        self.in_flight = 0


def create_app(config: ServerConfig, clock: Clock = time.monotonic) -> Starlette:
    state = MockState(config, clock)

    async def api(request: Request) -> Response:
        now = state.clock()
        state.in_flight += 1
        try:
            d = state.policy.decide(now)
            status = 200 if d.allowed else 429
            state.log.append(Arrival(request.headers.get("x-request-id", ""), now, status, "", state.in_flight))
            headers = {}
            if state.config.quota:
                headers = {
                    "X-RateLimit-Limit": str(d.limit),
                    "X-RateLimit-Remaining": str(d.remaining),
                    "X-RateLimit-Reset": str(ceil_seconds(d.reset_s)),
                }
            if state.config.latency_ms:
                await asyncio.sleep(state.config.latency_ms / 1000)
            if d.allowed:
                return JSONResponse({"ok": True}, headers=headers)
            headers["Retry-After"] = str(max(1, ceil_seconds(d.retry_after_s)))
            return JSONResponse({"error": "rate limited"}, status_code=429, headers=headers)
        finally:
            state.in_flight -= 1

    async def admin_log(request: Request) -> Response:
        return JSONResponse(state.log.to_json())

    async def admin_reset(request: Request) -> Response:
        body = await request.body()
        try:
            config = ServerConfig.from_dict(await request.json()) if body else state.config
        except (ConfigError, ValueError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        state.reset(config)
        return JSONResponse({"ok": True, "now": state.clock()})

    async def admin_config(request: Request) -> Response:
        return JSONResponse({"config": state.config.to_dict(), "now": state.clock()})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/__admin/log", admin_log, methods=["GET"]),
            Route("/__admin/reset", admin_reset, methods=["POST"]),
            Route("/__admin/config", admin_config, methods=["GET"]),
            Route("/{path:path}", api, methods=methods),
        ]
    )
    app.state.mock = state
    return app
