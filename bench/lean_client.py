"""One ``httpx.AsyncClient`` whose plain GET skips what the harness never uses: for real and in-process runs.

``httpx.AsyncClient.get`` spends most of its time on what the harness's one call — ``get(path,
headers={"x-request-id": ...})`` — never needs: merging and re-parsing the URL, the auth and redirect
machinery, the cookie jar (the standard library's, through a request adapter). Under the virtual clock that
was ~60 % of the harness's time per request (profile of the full virtual matrix: 190 of ~310 µs per request);
over aiohttp, a third of the client's CPU per request (docs/transports.md).

:class:`LeanClient` keeps the client's API. For a GET with at most ``headers`` it builds the request from a
cached URL and the client's default headers, runs the ``request`` event hooks (the runner stamps the moment a
request leaves with one), hands it to the transport and reads the body: the same request reaches the server
and the same ``httpx.Response`` (status, headers, body, ``request``, ``elapsed``) comes back. Skipped on
purpose: cookies (the mock sets none), auth (none configured), redirects (not followed by default anyway),
response hooks (none). Any other call goes through ``AsyncClient`` unchanged. Strategies receive this client
only through the harness's ``send``; it is not part of their API.

>>> import asyncio
>>> from mock_server.app import create_app
>>> from mock_server.config import ServerConfig
>>> async def one() -> int:
...     app = create_app(ServerConfig())
...     async with LeanClient(transport=httpx.ASGITransport(app), base_url="http://mock") as c:
...         return (await c.get("/v1/items", headers={"x-request-id": "1.1"})).status_code
>>> asyncio.run(one())
200
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

__all__ = ["LeanClient"]


class LeanClient(httpx.AsyncClient):
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
        request = httpx.Request("GET", full, headers=headers, extensions={"timeout": self.timeout.as_dict()})
        for hook in self.event_hooks["request"]:
            await hook(request)
        loop = asyncio.get_running_loop()
        start = loop.time()
        response = await self._direct.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        response.elapsed = dt.timedelta(seconds=loop.time() - start)  # as httpx's client sets it
        return response
