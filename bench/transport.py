"""Where the mock server runs: a real uvicorn subprocess on 127.0.0.1, or in-process over ASGI.

Both give the runner the same four things: an ``httpx.AsyncClient`` aimed at the API, a reset to a
fresh server state with a given config, the arrival log, and the server clock's origin in the
client's terms (they share one monotonic clock, so it is the identity). The reset returns the
server's new *generation* and the log says which generation it belongs to: a log from a later one
means someone else reset the server during the run.

>>> server = AsgiServer()          # virtual mode: the app reads the running loop's clock
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from httpx_aiohttp import AiohttpTransport
from starlette.types import ASGIApp

from bench.clock import io_sleep, loop_ns
from bench.columns import ArrivalColumns
from bench.lean_client import LeanClient
from mock_server.app import create_app
from mock_server.config import ServerConfig
from mock_server.log import Arrival
from mock_server.process import ServerError, ServerProcess

if TYPE_CHECKING:
    from bench.netmodel import NetModel

__all__ = ["DEFAULT_LIMITS", "DEFAULT_TRANSPORT", "TRANSPORTS", "AsgiServer", "RealServer", "Server", "ServerError",
           "ServerLog"]

#: Generous enough that the harness's pool never throttles a strategy that did not ask for it, and a bound on
#: the connections (so the requests in flight) the harness itself opens: jobs past it queue in the client.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
#: httpx's own pool scans every connection and queued request on each event (httpcore's
#: ``_assign_requests_to_connections``): quadratic once requests queue. Bounded to 100 connections ("httpx") or at
#: 1 000 ("httpx-wide"), it collapses past a few hundred requests/s on a 2-core machine (docs/transports.md).
HTTPX_BOUNDED_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
#: Per-request timeouts; the pool wait is unbounded because the run's own timeout bounds it.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, pool=None)


@dataclass(frozen=True)
class ServerLog:
    """The server's arrival log for one run, and whether it holds every arrival."""

    arrivals: Sequence[Arrival]  # ArrivalColumns when read from a server
    dropped: int  # arrivals the bounded in-memory log let go
    sink: str  # "memory", "file:<path>" or "off"
    generation: int | None = None  # the server state's resets so far (None: the server does not say)
    neighbour_rejected: int | None = None  # the noisy neighbour's requests the API rejected (None: not said)

    @property
    def complete(self) -> bool:
        return self.dropped == 0 and self.sink != "off"


class Server(Protocol):
    name: str

    def client(self, limits: httpx.Limits | None = None) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        ...

    async def reset(self, config: ServerConfig) -> int | None:
        """A fresh server state with ``config``; returns its generation (``None`` if the server does not say)."""
        ...

    async def arrivals(self) -> ServerLog: ...


async def _reset(admin: httpx.AsyncClient, config: ServerConfig) -> int | None:
    try:
        r = await admin.post("/__admin/reset", json=config.to_dict())
    except httpx.HTTPError as e:
        raise ServerError(f"mock server did not answer the reset: {e!r}") from None
    if r.status_code != 200:
        raise ServerError(f"mock server refused the config: {r.text}")
    generation = r.json().get("generation")
    return generation if isinstance(generation, int) else None


#: Records per ``/__admin/log`` page: ~0.7 MB of JSON, parsed one page at a time into columns.
LOG_PAGE = 10_000


async def _arrivals(admin: httpx.AsyncClient, page: int | None = None) -> ServerLog:
    """The server's log, read in pages of ``page`` records straight into :class:`bench.columns.ArrivalColumns`
    (a big run never holds the whole log as JSON or as objects). A server that does not page answers the whole
    log at once; that is read too. A reset between two pages shows as a later generation (an outside reset)."""
    page = page or LOG_PAGE
    cols = ArrivalColumns()
    since, dropped, sink, generation, neighbour = 0, 0, "memory", None, None
    while True:
        try:
            r = await admin.get("/__admin/log", params={"since": since, "limit": page})
            r.raise_for_status()
        except httpx.HTTPError as e:
            raise ServerError(f"mock server did not give its arrival log: {e!r}") from None
        data = r.json()
        rows = data["arrivals"]
        for rec in rows:
            cols.add(rec[0], rec[1], rec[2], rec[3], rec[4], rec[5] if len(rec) > 5 else 1)
        dropped = max(dropped, int(data.get("dropped", 0)))
        sink = str(data.get("sink", "memory"))
        g = data.get("generation")
        generation = g if isinstance(g, int) else None
        n = data.get("neighbour")
        rejected = n.get("rejected") if isinstance(n, dict) else None
        neighbour = rejected if isinstance(rejected, int) and not isinstance(rejected, bool) else None
        if "next" not in data or len(rows) < page:
            break
        since = int(data["next"])
        del data, rows, r
    return ServerLog(cols, dropped, sink, generation, neighbour)


class _TimedASGITransport(httpx.ASGITransport):
    """``ASGITransport`` ignores httpx timeouts; apply the read timeout the real client has, so a
    hanging response ends the same way (a transport error) in both modes. With a network model, each
    attempt waits its client→server delay before the app sees it and its server→client delay after."""

    def __init__(self, app: ASGIApp, net: NetModel | None = None) -> None:
        super().__init__(app)
        self._net = net
        # Attempts now in each leg: a burst's later sends queue behind the earlier ones in a real client.
        self._sending = self._receiving = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._net is None:
            return await self._call(request)
        self._sending += 1
        try:
            await io_sleep(self._net.request_delay(self._sending))
        finally:
            self._sending -= 1
        response = await self._call(request)
        self._receiving += 1
        try:
            await io_sleep(self._net.response_delay(self._receiving))
        finally:
            self._receiving -= 1
        return response

    async def _call(self, request: httpx.Request) -> httpx.Response:
        try:
            async with asyncio.timeout(DEFAULT_TIMEOUT.read):
                return await super().handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout("no response within the read timeout", request=request) from None


class AsgiServer:
    """The app in this process, driven through ``httpx.ASGITransport`` (no sockets: safe under the
    virtual loop, whose clock the app then reads). ``net`` (``bench.netmodel``) delays each API call
    as a socket would; without it requests arrive the instant they are sent (schedule only)."""

    name = "asgi"

    def __init__(self, net: NetModel | None = None) -> None:
        self._app: ASGIApp | None = None
        self._net = net

    def client(self, limits: httpx.Limits | None = None) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        return self._client(self._net)

    @contextlib.asynccontextmanager
    async def _client(self, net: NetModel | None) -> AsyncIterator[httpx.AsyncClient]:
        if self._app is None:
            # Built inside the loop: the app reads (and may stamp) the running loop's clock.
            loop = asyncio.get_running_loop()
            self._app = create_app(ServerConfig(), clock=loop_ns(loop))
        # Pool limits mean nothing without connections; httpx.Limits strategies are for the real server.
        async with LeanClient(transport=_TimedASGITransport(self._app, net), base_url="http://mock",
                              trust_env=False) as c:
            yield c

    # The harness's own admin calls are not part of the run: no modelled delays, no random draws.
    async def reset(self, config: ServerConfig) -> int | None:
        async with self._client(None) as c:
            return await _reset(c, config)

    async def arrivals(self) -> ServerLog:
        async with self._client(None) as c:
            return await _arrivals(c)


def _aiohttp_client(base_url: str, limits: httpx.Limits | None) -> httpx.AsyncClient:
    # httpx's API over aiohttp's connector (limit = max_connections; its waiters queue in O(1)).
    transport = AiohttpTransport(limits=limits or DEFAULT_LIMITS, trust_env=False)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=DEFAULT_TIMEOUT, trust_env=False)


def _aiohttp_lean_client(base_url: str, limits: httpx.Limits | None) -> httpx.AsyncClient:
    transport = AiohttpTransport(limits=limits or DEFAULT_LIMITS, trust_env=False)
    return LeanClient(base_url=base_url, transport=transport, timeout=DEFAULT_TIMEOUT, trust_env=False)


def _httpx_client(base_url: str, limits: httpx.Limits | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, limits=limits or HTTPX_BOUNDED_LIMITS, timeout=DEFAULT_TIMEOUT,
                             trust_env=False)


def _httpx_wide_client(base_url: str, limits: httpx.Limits | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, limits=limits or DEFAULT_LIMITS, timeout=DEFAULT_TIMEOUT,
                             trust_env=False)


#: The harness's own client for real runs, by ``--transport`` name. Every one is an ``httpx.AsyncClient``
#: (the API strategies see); a strategy's own ``client_limits`` replace the default limits in each.
TRANSPORTS: dict[str, Callable[[str, httpx.Limits | None], httpx.AsyncClient]] = {
    "aiohttp": _aiohttp_client,  # httpx-aiohttp's AiohttpTransport, up to 1 000 connections
    "aiohttp-lean": _aiohttp_lean_client,  # the same under a LeanClient: the harness's get() skips httpx's extras
    "httpx": _httpx_client,  # httpx's own pool (httpcore), bounded to 100 connections
    "httpx-wide": _httpx_wide_client,  # httpx's own pool at 1 000 connections: the former default, with the cliff
}
#: Chosen by measurement (docs/transports.md, ``make bench-transports``).
DEFAULT_TRANSPORT = "aiohttp-lean"


class RealServer(ServerProcess):
    """The mock server in a child process on 127.0.0.1 (:class:`mock_server.process.ServerProcess`),
    spoken to over real sockets through the harness client named by ``transport`` (:data:`TRANSPORTS`); admin
    requests carry the child's own token.

    >>> RealServer(transport="httpx").transport
    'httpx'
    """

    name = "http"

    def __init__(self, *args: Any, transport: str = DEFAULT_TRANSPORT, **kwargs: Any) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport {transport!r}: not one of {', '.join(TRANSPORTS)}")
        super().__init__(*args, **kwargs)
        self.transport = transport

    def __enter__(self) -> RealServer:
        super().__enter__()
        return self

    @contextlib.asynccontextmanager
    async def client(self, limits: httpx.Limits | None = None) -> AsyncIterator[httpx.AsyncClient]:
        async with TRANSPORTS[self.transport](self.base_url, limits) as c:
            yield c

    async def reset(self, config: ServerConfig) -> int | None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10, headers=self.admin_headers,
                                     trust_env=False) as c:
            return await _reset(c, config)

    async def arrivals(self) -> ServerLog:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30, headers=self.admin_headers,
                                     trust_env=False) as c:
            return await _arrivals(c)
