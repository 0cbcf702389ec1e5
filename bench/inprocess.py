"""The httpx client for the in-process (virtual-time) server: plain GETs go straight to the transport.

``httpx.AsyncClient.get`` spends most of its time on what a call into an app in this process never
uses: merging and re-parsing the URL, the auth and redirect machinery, the cookie jar (the standard
library's, through a request adapter). Under the virtual clock that was ~60 % of the harness's time
per request (profile of the full virtual matrix: 190 of ~310 µs per request). :class:`InProcessClient`
keeps the client's API and, for a GET with at most ``headers``, builds the request from a cached URL
and the client's default headers, hands it to the transport and reads the body — the same request
reaches the app, and the same ``httpx.Response`` (status, headers, body, ``request``, ``elapsed``) comes
back. What it skips, on purpose: cookies (the mock sets none), auth (none configured), redirects (not
followed by default anyway) and event hooks (none). Any other call goes through ``AsyncClient``
unchanged.

>>> import asyncio
>>> from mock_server.app import create_app
>>> from mock_server.config import ServerConfig
>>> async def one() -> int:
...     app = create_app(ServerConfig(), clock=asyncio.get_running_loop().time)
...     async with InProcessClient(transport=httpx.ASGITransport(app), base_url="http://mock") as c:
...         return (await c.get("/v1/items", headers={"x-request-id": "1.1"})).status_code
>>> asyncio.run(one())
200
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

__all__ = ["InProcessClient"]


class InProcessClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose plain GETs skip cookies, auth, redirects and URL re-parsing."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport, base_url: str, **kwargs: Any) -> None:
        super().__init__(transport=transport, base_url=base_url, **kwargs)
        self._direct = transport
        self._urls: dict[str, httpx.URL] = {}

    async def get(self, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        if not isinstance(url, str) or kwargs.keys() - {"headers"} or self.is_closed:
            return await super().get(url, **kwargs)
        full = self._urls.get(url)
        if full is None:
            full = self._urls[url] = self.build_request("GET", url).url  # merged as AsyncClient merges it
        headers = self.headers.copy()
        if kwargs.get("headers"):
            headers.update(kwargs["headers"])
        request = httpx.Request("GET", full, headers=headers)
        loop = asyncio.get_running_loop()
        start = loop.time()
        response = await self._direct.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        response.elapsed = dt.timedelta(seconds=loop.time() - start)
        return response
