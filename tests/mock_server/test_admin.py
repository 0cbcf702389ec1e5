"""The admin endpoints' guard, in-process: Host, token, JSON only, bounded bodies, no file paths over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from mock_server.admin import MAX_BODY, AdminGuard, BodyError, host_name, parse_body
from mock_server.app import MockApp, create_app
from mock_server.config import ServerConfig
from tests.mock_server.apptools import JSON, FakeClock

T = TypeVar("T")
TOKEN = "s3cret"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def call(app: MockApp, fn: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """Run ``fn(client)`` against ``app`` in-process, as a local client would: Host 127.0.0.1."""

    async def main() -> T:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1") as c:
            return await fn(c)

    return asyncio.run(main())


def app_with(tmp_path: Path, token: str | None = TOKEN) -> MockApp:
    return create_app(ServerConfig(), clock=FakeClock(), admin_token=token, log_dir=tmp_path / "logs")


def test_admin_token_guards_admin_endpoints_only() -> None:
    app = create_app(ServerConfig(), clock=FakeClock(), admin_token=TOKEN)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        good = {"authorization": "Bearer s3cret"}
        return [
            (await c.get("/v1/items")).status_code,
            (await c.get("/__admin/log")).status_code,
            (await c.get("/__admin/log", headers={"authorization": "Bearer nope"})).status_code,
            (await c.get("/__admin/log", headers=good)).status_code,
            (await c.post("/__admin/reset", headers=good, json={"log": {"file": "x.csv"}})).status_code,
        ]

    assert call(app, scenario) == [200, 401, 401, 200, 400]


def test_cross_origin_text_plain_post_changes_nothing(tmp_path: Path) -> None:
    # What a web page can send to localhost without a CORS preflight: a text/plain POST. It once chose the
    # log file (truncating it) and let a later request's header be written into it as a line.
    victim = tmp_path / "victim.sh"
    victim.write_text("echo precious\n")
    body = json.dumps({"log": {"file": str(victim)}, "key_header": "x-evil"})
    for app in (app_with(tmp_path), app_with(tmp_path, token=None)):

        async def attack(c: httpx.AsyncClient) -> tuple[int, int, int, int]:
            await c.get("/v1/items", headers={"x-request-id": "before"})
            plain = await c.post("/__admin/reset", content=body, headers={"content-type": "text/plain"})
            form = await c.post("/__admin/reset", content=body, headers={**AUTH, "content-type": "text/plain"})
            await c.get("/v1/items", headers={"x-evil": "rm -rf ~", "x-request-id": "after"})
            stats = (await c.get("/__admin/stats", headers=AUTH)).json()
            return plain.status_code, form.status_code, stats["generation"], stats["logged"]

        plain, form, generation, logged = call(app, attack)
        assert plain in (401, 415) and form == 415
        assert (generation, logged) == (0, 2)  # never reset: both requests in the one state's log
        assert app.run.config.key_header == "x-api-key"
    assert victim.read_text() == "echo precious\n"


def test_admin_wants_a_loopback_host_against_dns_rebinding(tmp_path: Path) -> None:
    app = app_with(tmp_path)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        return [(await c.get("/__admin/config", headers={**AUTH, "host": h})).status_code
                for h in ("evil.example", "evil.example:8080", "127.0.0.1:9", "localhost", "[::1]:80",
                          "127.0.0.1.evil.example")]

    assert call(app, scenario) == [421, 421, 200, 200, 200, 421]
    # Names given at start-up (``--admin-host``) are accepted too.
    guard = AdminGuard.make(TOKEN, ["Bench.Lan"])
    assert guard.refuse("GET", {"host": "bench.lan:8080", **AUTH}) is None
    assert guard.refuse("GET", {"host": "other.lan", **AUTH}) is not None


def test_token_is_required_and_compared_whole(tmp_path: Path) -> None:
    app = app_with(tmp_path)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        given = [b"", b"Bearer s3cre", b"Bearer s3cretX", TOKEN.encode(), b"Bearer s3cr\xe9t", b"Bearer s3cret"]
        return [(await c.get("/__admin/log", headers=[(b"authorization", v)] if v else [])).status_code
                for v in given]

    assert call(app, scenario) == [401, 401, 401, 401, 401, 200]


def test_the_auth_scheme_is_case_insensitive_and_the_token_is_not(tmp_path: Path) -> None:
    # RFC 7235 §2.1: "bearer" and "BEARER" name the scheme "Bearer"; a lower-case scheme used to get 401.
    app = app_with(tmp_path)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        given = ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "bEaReR s3cret",
                 "bearer nope", "bearer S3CRET", "Basic s3cret", "bearers3cret", "bearer"]
        return [(await c.get("/__admin/log", headers={"authorization": v})).status_code for v in given]

    assert call(app, scenario) == [200, 200, 200, 200, 401, 401, 401, 401, 401]


def test_log_file_cannot_be_set_over_http(tmp_path: Path) -> None:
    app = app_with(tmp_path)

    async def scenario(c: httpx.AsyncClient) -> list[tuple[int, str]]:
        out = []
        for file in ("x.csv", str(tmp_path / "x.csv"), "../x.csv"):
            r = await c.post("/__admin/reset", headers={**AUTH, **JSON}, json={"log": {"file": file}})
            out.append((r.status_code, r.json()["error"].split(":")[0]))
        return out

    assert call(app, scenario) == [(400, "server.log.file")] * 3
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "logs").exists()
    assert app.generation == 0


def test_log_file_given_at_start_stays_across_http_resets(tmp_path: Path) -> None:
    app = create_app(ServerConfig.from_dict({"log": {"file": "a.csv"}}), clock=FakeClock(), admin_token=TOKEN,
                     log_dir=tmp_path)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        out = [(await c.post("/__admin/reset", headers={**AUTH, **JSON}, json={"latency_ms": 1})).status_code,
               (await c.post("/__admin/reset", headers={**AUTH, **JSON}, json={"log": {"file": "a.csv"}})).status_code]
        await c.get("/", headers={"x-request-id": "r1"})
        return out

    try:
        assert call(app, scenario) == [200, 200]
    finally:
        app.close()
    assert app.run.config.log.file == "a.csv" and app.run.config.latency_ms == 0.0
    assert (tmp_path / "a.csv").read_text().splitlines()[1].startswith("r1,")


def test_deep_json_is_a_400_not_a_recursion_error(tmp_path: Path) -> None:
    app = app_with(tmp_path)
    deep = b"[" * 200_000 + b"]" * 200_000

    async def scenario(c: httpx.AsyncClient) -> tuple[int, str]:
        r = await c.post("/__admin/reset", headers={**AUTH, **JSON}, content=deep)
        return r.status_code, r.json()["error"]

    assert call(app, scenario) == (400, "body: JSON nested deeper than 32 levels")
    # Brackets inside strings are not nesting.
    assert parse_body(b'{"name": "' + b"[" * 100 + b'"}') == {"name": "[" * 100}


def test_oversized_body_is_refused_unread(tmp_path: Path) -> None:
    app = app_with(tmp_path)
    big = b'{"latency_ms": 1}' + b" " * MAX_BODY  # valid JSON, one byte too many of it

    async def scenario(c: httpx.AsyncClient) -> int:
        return (await c.post("/__admin/reset", headers={**AUTH, **JSON}, content=big)).status_code

    assert call(app, scenario) == 413
    assert app.generation == 0
    with pytest.raises(BodyError, match="not valid JSON"):
        parse_body(b"\xff{")


def test_generations_count_resets(tmp_path: Path) -> None:
    app = app_with(tmp_path)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        gens = [(await c.post("/__admin/reset", headers={**AUTH, **JSON})).json()["generation"] for _ in range(3)]
        gens.append((await c.get("/__admin/log", headers=AUTH)).json()["generation"])
        gens.append((await c.get("/__admin/stats", headers=AUTH)).json()["generation"])
        return gens

    assert call(app, scenario) == [1, 2, 3, 3, 3]


def test_host_name_parsing() -> None:
    assert [host_name(h) for h in ("127.0.0.1:80", "[::1]", "::1", "Example.COM", "")] == \
        ["127.0.0.1", "::1", "::1", "example.com", ""]
    # Strict: a bracketed address is followed by nothing or ":digits"; a port is digits.
    malformed = ("[::1]evil.example", "[::1]:80evil", "[::1]:", "[::1]]", "[[::1]", "localhost:evil", "127.0.0.1:",
                 "localhost:８０")
    assert [host_name(h) for h in malformed] == [""] * len(malformed)
    assert [host_name(h) for h in ("[::1]:8080", "localhost:0")] == ["::1", "localhost"]


def test_trailing_junk_after_a_bracketed_loopback_is_not_loopback(tmp_path: Path) -> None:
    app = app_with(tmp_path)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        return [(await c.get("/__admin/config", headers={**AUTH, "host": h})).status_code
                for h in ("[::1]evil.example", "[::1]:80.evil.example", "[::1]")]

    assert call(app, scenario) == [421, 421, 200]
