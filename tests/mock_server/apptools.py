"""Helpers for driving the app in-process: an injectable clock, an ASGI client, virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx

from bench import clock as vclock
from mock_server.app import MockApp, create_app
from mock_server.config import ServerConfig
from mock_server.ticks import from_seconds, to_seconds

T = TypeVar("T")
EPOCH = 1_700_000_000.0  # a fixed wall clock, so epoch headers are exact
JSON = {"content-type": "application/json"}  # every admin POST says so, also with an empty body


class FakeClock:
    """A server clock set in seconds (``clock.now = 101.5``) and read, as the app reads it, in integer ns."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> int:
        return from_seconds(self.now)


@asynccontextmanager
async def client(app: MockApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://mock") as c:
        yield c


def call(app: MockApp, fn: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """Run ``fn(client)`` against ``app`` on a real event loop (for apps on a fake clock)."""

    async def main() -> T:
        async with client(app) as c:
            return await fn(c)

    return asyncio.run(main())


def config(**server: Any) -> ServerConfig:
    return ServerConfig.from_dict(server)


def at_times(
    cfg: ServerConfig, times: Sequence[float], headers: dict[str, str] | None = None, wall: float = EPOCH
) -> list[httpx.Response]:
    """Under virtual time, send one request at each of ``times`` (seconds after the server's start)
    and return the responses; the app reads the virtual loop's clock."""

    async def main() -> list[httpx.Response]:
        loop = asyncio.get_running_loop()
        app = create_app(cfg, clock=vclock.loop_ns(loop), wall=lambda: wall)
        out = []
        async with client(app) as c:
            for t in times:
                await asyncio.sleep(max(0.0, to_seconds(app.run.start) + t - loop.time()))
                out.append(await c.get("/v1/items", headers=headers or {}))
        return out

    return vclock.run(main())
