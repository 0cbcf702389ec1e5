import asyncio

import httpx

from mock_server.app import create_app
from mock_server.config import ServerConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def call(app: object, coro_fn):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://mock") as c:  # type: ignore[arg-type]
            return await coro_fn(c)

    return asyncio.run(main())


def test_429_headers_and_log() -> None:
    clock = FakeClock()
    app = create_app(ServerConfig.from_dict({"quota": [{"limit": 2, "window_s": 5.0}]}), clock=clock)

    async def scenario(c: httpx.AsyncClient) -> tuple[list[httpx.Response], dict]:  # type: ignore[type-arg]
        out = []
        for i, t in enumerate([100.0, 101.0, 102.5]):
            clock.now = t
            out.append(await c.get("/v1/x", headers={"x-request-id": f"r{i}"}))
        return out, (await c.get("/__admin/log")).json()

    (r1, r2, r3), log = call(app, scenario)
    assert [r.status_code for r in (r1, r2, r3)] == [200, 200, 429]
    assert r1.headers["x-ratelimit-remaining"] == "1"
    assert r2.headers["x-ratelimit-remaining"] == "0"
    # Slot frees at 100 + 5 = 105; at 102.5 that is 2.5 s away: Retry-After and reset round up to 3.
    assert r3.headers["retry-after"] == "3"
    assert r3.headers["x-ratelimit-reset"] == "3"
    assert r3.headers["x-ratelimit-limit"] == "2"
    assert [a[:3] for a in log["arrivals"]] == [["r0", 100.0, 200], ["r1", 101.0, 200], ["r2", 102.5, 429]]


def test_reset_replaces_config_and_clears_state() -> None:
    clock = FakeClock()
    app = create_app(ServerConfig(), clock=clock)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        await c.get("/a")
        r = await c.post("/__admin/reset", json={"quota": [{"limit": 1, "window_s": 1.0}]})
        assert r.status_code == 200
        codes = [(await c.get("/a")).status_code for _ in range(2)]
        log = (await c.get("/__admin/log")).json()
        assert len(log["arrivals"]) == 2  # the request before the reset is gone
        bad = await c.post("/__admin/reset", json={"quota": [{"limit": 0, "window_s": 1.0}]})
        assert bad.status_code == 400 and "server.quota[0].limit" in bad.json()["error"]
        return codes

    assert call(app, scenario) == [200, 429]


def test_no_quota_sends_no_rate_limit_headers() -> None:
    app = create_app(ServerConfig(), clock=FakeClock())

    async def scenario(c: httpx.AsyncClient) -> httpx.Response:
        return await c.get("/")

    r = call(app, scenario)
    assert r.status_code == 200 and "x-ratelimit-limit" not in r.headers
