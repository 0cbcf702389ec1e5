"""LeanClient: a plain GET reaches the app as AsyncClient's would and returns the same response."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bench.lean_client import LeanClient


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that answers with what it received: path, query and headers."""
    assert scope["type"] == "http"
    seen = f"{scope['method']} {scope['path']} {scope['query_string'].decode()} " + ";".join(
        f"{k.decode()}={v.decode()}" for k, v in scope["headers"])
    body = seen.encode()
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"x-seen", b"yes"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def both(path: str, **kwargs: Any) -> tuple[httpx.Response, httpx.Response]:
    transport = httpx.ASGITransport(echo)
    async with (httpx.AsyncClient(transport=transport, base_url="http://mock", headers={"x-key": "k"}) as plain,
                LeanClient(transport=transport, base_url="http://mock", headers={"x-key": "k"}) as fast):
        return await plain.get(path, **kwargs), await fast.get(path, **kwargs)


def test_the_app_sees_the_same_request_and_the_caller_the_same_response() -> None:
    plain, fast = asyncio.run(both("/v1/items", headers={"x-request-id": "7.1"}))
    assert fast.status_code == plain.status_code == 201
    assert fast.text == plain.text and "x-request-id=7.1" in fast.text and "x-key=k" in fast.text
    assert fast.headers == plain.headers and fast.headers["x-seen"] == "yes"
    assert fast.request.url == plain.request.url == "http://mock/v1/items"
    assert fast.is_closed and fast.elapsed.total_seconds() >= 0


def test_other_calls_take_the_ordinary_path() -> None:
    plain, fast = asyncio.run(both("/v1/items", params={"page": "2"}))
    assert fast.text == plain.text and "page=2" in fast.text
