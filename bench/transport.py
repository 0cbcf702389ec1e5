"""Where the mock server runs: a real uvicorn subprocess on 127.0.0.1, or in-process over ASGI.

Both give the runner the same four things: an ``httpx.AsyncClient`` aimed at the API, a reset to a
fresh server state with a given config, the arrival log, and the server clock's origin in the
client's terms (they share one monotonic clock, so it is the identity).

>>> server = AsgiServer()          # virtual mode: the app reads the running loop's clock
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Protocol

import httpx
from starlette.types import ASGIApp

from mock_server.app import create_app
from mock_server.config import ServerConfig
from mock_server.log import Arrival, from_json

#: Generous enough that the harness's pool never throttles a strategy that did not ask for it.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
#: Per-request timeouts; the pool wait is unbounded because the run's own timeout bounds it.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, pool=None)


class ServerError(RuntimeError):
    pass


class Server(Protocol):
    name: str

    def client(self, limits: httpx.Limits | None = None) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        ...

    async def reset(self, config: ServerConfig) -> None: ...

    async def arrivals(self) -> list[Arrival]: ...


async def _reset(admin: httpx.AsyncClient, config: ServerConfig) -> None:
    r = await admin.post("/__admin/reset", json=config.to_dict())
    if r.status_code != 200:
        raise ServerError(f"mock server refused the config: {r.text}")


async def _arrivals(admin: httpx.AsyncClient) -> list[Arrival]:
    r = await admin.get("/__admin/log")
    r.raise_for_status()
    return from_json(r.json())


class AsgiServer:
    """The app in this process, driven through ``httpx.ASGITransport`` (no sockets: safe under the
    virtual loop, whose clock the app then reads)."""

    name = "asgi"

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    @contextlib.asynccontextmanager
    async def client(self, limits: httpx.Limits | None = None) -> AsyncIterator[httpx.AsyncClient]:
        if self._app is None:
            # Built inside the loop: the app reads (and may stamp) the running loop's clock.
            loop = asyncio.get_running_loop()
            self._app = create_app(ServerConfig(), clock=loop.time)
        # Pool limits mean nothing without connections; httpx.Limits strategies are for the real server.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(self._app), base_url="http://mock") as c:
            yield c

    async def reset(self, config: ServerConfig) -> None:
        async with self.client() as c:
            await _reset(c, config)

    async def arrivals(self) -> list[Arrival]:
        async with self.client() as c:
            return await _arrivals(c)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RealServer:
    """``python -m mock_server`` under uvicorn in a child process bound to 127.0.0.1.

    Use as a context manager: the process is stopped (by its PID) on exit, whatever happened.
    """

    name = "http"

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, config: Path | None = None) -> None:
        self.host = host
        self.config = config
        self.port = port or free_port()
        self.base_url = f"http://{host}:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RealServer:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mock_server", "--host", self.host, "--port", str(self.port),
             *(["--config", str(self.config)] if self.config else [])],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.base_url}/__admin/config", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise ServerError(f"mock server did not answer on {self.base_url} within 20 s")
            # Start-up happens outside any event loop; waiting on the child doubles as the exit check.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(0.05)
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                self.__exit__(None, None, None)
                raise ServerError(f"mock server exited with {self._proc.returncode}: {err.strip()}")

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()

    @contextlib.asynccontextmanager
    async def client(self, limits: httpx.Limits | None = None) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits or DEFAULT_LIMITS,
                                     timeout=DEFAULT_TIMEOUT) as c:
            yield c

    async def reset(self, config: ServerConfig) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as c:
            await _reset(c, config)

    async def arrivals(self) -> list[Arrival]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as c:
            return await _arrivals(c)
