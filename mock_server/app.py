"""The mock rate-limited API as an ASGI app.

Every path except ``/__admin/*`` is "the API": it answers 200 with a small JSON body, or a rejection
(429/403 with rate-limit headers and ``Retry-After``; 503 in an outage or over the concurrency cap;
an injected 5xx), after the configured latency. Every arrival is logged.

The API path is a plain ASGI function (no routing, no Request object: it is the hot path, measured in
docs/scenarios.md); the admin endpoints are a small Starlette app behind it:

* ``GET /__admin/config``: the config in force, and the server clock;
* ``POST /__admin/reset``: a fresh state (quota, log, dynamics, random draws), optionally with a new
  config as the JSON body (``ServerConfig.to_dict()``); 400 naming the bad key otherwise;
* ``GET /__admin/log``: the arrival log (``mock_server.log.from_json`` reads it back); with
  ``?since=K&limit=L``, one page of it (docs/scenarios.md);
* ``GET /__admin/stats``: counts by status, in flight, the neighbour's traffic, resets.

Every admin request must name a loopback ``Host`` and carry the ``admin_token`` (``python -m
mock_server`` always has one; an in-process app that no socket reaches may have none, and then skips
both checks), and POST JSON: :mod:`mock_server.admin` has the rules. The arrival log's file is chosen
at start-up only (inside ``log_dir``); a reset over HTTP cannot change it. Each reset starts a new
*generation* (``reset``, ``log`` and ``stats`` report it), so a client can tell whether someone else
reset the server meanwhile.

The clock is injected and reads integer nanoseconds (:mod:`mock_server.ticks`: the policies compare
ints, so "one window old" is exact): the default is ``time.monotonic_ns`` (system-wide on Linux, so the
client's ``loop.time()`` is directly comparable); under the virtual loop the runner passes
``bench.clock.loop_ns(loop)``, the loop's integer microseconds × 1000.
``wall`` (default ``time.time``, looked up at each reset so a patched clock is followed) anchors
epoch resets and HTTP dates: epoch at a request = wall at reset + server time since reset.

>>> import asyncio, httpx
>>> from mock_server.config import ServerConfig
>>> app = create_app(ServerConfig.from_dict({"quota": [{"limit": 1, "window_s": 60}]}), clock=lambda: 5 * 10**9)
>>> async def two_calls() -> list[int]:
...     async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://mock") as c:
...         return [(await c.get("/v1/items")).status_code for _ in range(2)]
>>> asyncio.run(two_calls())
[200, 429]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mock_server.admin import MAX_BODY, AdminGuard, BodyError, parse_body
from mock_server.config import LOG_DIR, MAX_COST, ConfigError, ServerConfig, resolve_log_file
from mock_server.faults import Faults
from mock_server.headers import Announcer, Headers
from mock_server.latency import sampler
from mock_server.log import MAX_PAGE, ArrivalLog, FileLog, NullLog, Sink
from mock_server.quota import QuotaState
from mock_server.ticks import from_seconds, to_seconds

Clock = Callable[[], int]  # server time, integer nanoseconds
Wall = Callable[[], float]  # UTC epoch seconds

OK_BODY = b'{"ok":true}'
_JSON = b"application/json"


def make_log(config: ServerConfig, log_path: Path | None = None) -> Sink:
    """The sink ``config`` asks for; a file log writes to ``log_path`` (``log.file`` resolved inside the
    server's log directory), or to ``log.file`` itself when none is given."""
    c = config.log
    if not c.enabled:
        return NullLog()
    if c.file:
        return FileLog(log_path or c.file)
    return ArrivalLog(c.limit, c.max_bytes)


class RunState:
    """Everything a reset starts afresh: config, quota state, random draws, log, in-flight count.

    :meth:`decide` is the whole synchronous decision for one request (what to answer, after how long);
    the app only adds the waiting and the sending.
    """

    def __init__(self, config: ServerConfig, clock: Clock, wall: Wall, log_path: Path | None = None) -> None:
        self.config = config
        self.start = clock()
        self.wall0 = wall()
        self.quota = QuotaState(config, self.start)
        self.has_quota = bool(config.quota or config.keys)
        self.announce = Announcer(config.headers)
        self.latency = sampler(config.latency)
        self.faults = Faults(config.faults, self.start)
        self.log = make_log(config, log_path)
        self.in_flight = 0
        self.cap = config.concurrency.limit
        self.key_header = config.key_header.encode("latin-1")
        self.cost_header = config.cost.header.encode("latin-1")
        self.per_unit_s = config.latency.per_unit_ms / 1000
        self.statuses: Counter[int] = Counter()

    def epoch(self, now: int) -> float:
        return self.wall0 + to_seconds(now - self.start)

    def cost_of(self, raw: bytes | None, key: str) -> tuple[int, str | None]:
        """The cost a request declares in the cost header (the configured default without one), and
        why it is refused (``None`` when it is not): the header comes from the client, so anything but
        a plain decimal integer within bounds is a 400, never an exception or a huge count."""
        if raw is None:
            return self.config.cost.default, None
        name = self.config.cost.header
        text = raw.decode("latin-1").strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 7:
            return 0, f"{name}: must be an integer from 0 to {MAX_COST}, got {text[:40]!r}"
        cost = int(text)
        if cost > MAX_COST:
            return 0, f"{name}: must be an integer from 0 to {MAX_COST}, got {cost}"
        if self.has_quota:
            most = self.quota.limiter(key).max_cost()
            if most is not None and cost > most:
                return 0, (f"{name}: {cost} exceeds the token quota's capacity ({most}); such a request "
                           "can never be accepted")
        return cost, None

    def decide(self, request_id: str, key: str, now: int, cost: int = 1) -> tuple[int, Headers, float, bool]:
        """``(status, extra headers, delay_s, hang)`` for a request of ``cost`` arriving at ``now``
        (already counted in ``in_flight``); logs the arrival."""
        headers: Headers
        delay = 0.0
        hang = False
        if self.faults.has_outages and self.faults.in_outage(now):
            status, headers = 503, []
        elif self.cap and self.in_flight > self.cap:
            c = self.config.concurrency
            status = c.status
            headers = (self.announce.retry(from_seconds(c.retry_after_s), self.epoch(now))
                       if c.retry_after_s > 0 else [])
        else:
            status = 200
            headers = []
            if self.has_quota:
                d = self.quota.decide(key, now, cost)
                epoch = self.epoch(now)
                if d.tiers:  # a key no tier applies to (only [keys] configured) gets no limit headers
                    headers = self.announce.quota(d, epoch)
                if not d.allowed:
                    status = self.announce.reject_status
                    headers += self.announce.retry(d.retry_after_ns, epoch)
            delay = self.latency() + cost * self.per_unit_s
            if status == 200 and self.faults.active and (f := self.faults.draw()) is not None:
                # A hang is held for hang_s exactly; a slow response is slow on top of its latency.
                status, delay, hang = f.status, f.delay_s if f.hang else delay + f.delay_s, f.hang
        self.log.add(request_id, now, status, key, self.in_flight, cost)
        self.statuses[status] += 1
        return status, headers, delay, hang

    def neighbour(self, now: int) -> dict[str, int]:
        """The noisy neighbour's requests up to ``now``: ``sent`` and ``rejected`` (a run's report counts the
        rejections its own traffic may have caused, docs/metrics.md)."""
        self.quota.catch_up(now)
        return {"sent": self.quota.neighbour_sent, "rejected": self.quota.neighbour_rejected}

    def stats(self, now: int) -> dict[str, Any]:
        return {
            "now": to_seconds(now), "start": to_seconds(self.start), "in_flight": self.in_flight,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "neighbour": {"sent": self.quota.neighbour_sent, "accepted": self.quota.neighbour_accepted},
            "logged": self.log.total,
        }


async def _hang(receive: Receive, seconds: float) -> bool:
    """Hold until the client disconnects (True) or ``seconds`` pass (False)."""
    try:
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass
            return True
    except TimeoutError:
        return False


class MockApp:
    """The ASGI app :func:`create_app` returns. ``run`` is the current :class:`RunState`."""

    def __init__(self, config: ServerConfig, clock: Clock, wall: Wall | None, admin_token: str | None,
                 admin_hosts: Collection[str] = (), log_dir: str | Path = LOG_DIR) -> None:
        self.clock = clock
        self.wall: Wall = wall or (lambda: time.time())
        self.guard = AdminGuard.make(admin_token, admin_hosts)
        self.log_dir = Path(log_dir)
        self.generation = 0  # resets so far: the runner checks nobody else reset during its run
        self._log_file = ""  # log.file as configured at start-up, and where it resolved to
        self._log_path: Path | None = None
        self._pin_log_file(config)
        self._config = config
        self._run: RunState | None = None
        with contextlib.suppress(RuntimeError):
            # A clock that cannot be read yet (``loop.time`` before the loop runs) starts the state at
            # its first use instead.
            self._run = RunState(config, clock, self.wall, self._log_path)
        self.admin = self._admin_app()

    @property
    def admin_token(self) -> str | None:
        return self.guard.token

    def _pin_log_file(self, config: ServerConfig) -> None:
        if config.log.file != self._log_file or (config.log.file and self._log_path is None):
            self._log_path = resolve_log_file(config.log.file, self.log_dir) if config.log.file else None
            self._log_file = config.log.file

    @property
    def run(self) -> RunState:
        """The current state (created at the first use if the clock was not readable at creation)."""
        if self._run is None:
            self._run = RunState(self._config, self.clock, self.wall, self._log_path)
        return self._run

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/__admin/"):
            await self.api(scope, receive, send)
        else:
            await self.admin(scope, receive, send)

    async def api(self, scope: Scope, receive: Receive, send: Send) -> None:
        now = self.clock()
        st = self.run  # a reset mid-request must not touch the new state's in-flight count
        request_id = key = ""
        cost_raw: bytes | None = None
        kh, ch = st.key_header, st.cost_header
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == kh:
                key = value.decode("latin-1")
            elif name == ch:
                cost_raw = value
        cost, refused = st.cost_of(cost_raw, key)
        if refused is not None:
            # Logged (it arrived), not counted by any tier; the message names the header and the value.
            st.log.add(request_id, now, 400, key, st.in_flight + 1, cost)
            st.statuses[400] += 1
            body = json.dumps({"error": refused}).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", _JSON), (b"content-length", b"%d" % len(body))]})
            await send({"type": "http.response.body", "body": body})
            return
        st.in_flight += 1
        try:
            status, headers, delay, hang = st.decide(request_id, key, now, cost)
            if hang:
                if await _hang(receive, delay):
                    return  # the client gave up: nobody to answer
            elif delay > 0:
                await asyncio.sleep(delay)
            if status == 200:
                ctype, body = _JSON, OK_BODY
            else:
                ctype, body = st.announce.body(status)
            headers.append((b"content-type", ctype))
            headers.append((b"content-length", b"%d" % len(body)))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            st.in_flight -= 1

    # -- admin ---------------------------------------------------------------------------------------

    def _admin_app(self) -> Starlette:
        def guarded(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
            async def endpoint(request: Request) -> Response:
                refused = self.guard.refuse(request.method, request.headers)
                if refused is not None:
                    return JSONResponse({"error": refused[1]}, status_code=refused[0])
                result: Response = await fn(request)
                return result
            return endpoint

        async def log(request: Request) -> Response:
            # ?since=K&limit=L: one page (mock_server.log.MAX_PAGE at most), so a big log is read in bounded
            # pieces on both sides; without them, the whole log at once.
            q = request.query_params
            neighbour = self.run.neighbour(self.clock())  # counted up to now, on every page (the last one counts)
            if "since" not in q and "limit" not in q:
                return JSONResponse({**self.run.log.to_json(), "neighbour": neighbour, "generation": self.generation})
            repeated = next((name for name in ("since", "limit") if len(q.getlist(name)) > 1), None)
            if repeated is not None:  # which one was meant is a guess: refuse rather than take the last
                return JSONResponse({"error": f"{repeated}: given more than once"}, status_code=400)
            try:
                since, limit = _count(q, "since", 0, 0, None), _count(q, "limit", MAX_PAGE, 1, MAX_PAGE)
            except ValueError as e:
                return JSONResponse({"error": str(e)}, status_code=400)
            return JSONResponse({**self.run.log.page(since, limit), "neighbour": neighbour,
                                 "generation": self.generation})

        async def reset(request: Request) -> Response:
            try:
                data = parse_body(await _read_body(request))
                config = ServerConfig.from_dict(data) if data is not None else self.run.config
            except BodyError as e:
                return JSONResponse({"error": str(e)}, status_code=e.status)
            except ConfigError as e:
                return JSONResponse({"error": str(e)}, status_code=400)
            if config.log.file and config.log.file != self._log_file:
                # Nothing from an HTTP request becomes a file path: the file is the server's start-up choice.
                return JSONResponse({"error": "server.log.file: cannot be set over HTTP (give it in the server's "
                                              "--config or --log-file, inside its --log-dir)"}, status_code=400)
            self.reset(replace(config, log=replace(config.log, file=self._log_file)))
            return JSONResponse({"ok": True, "now": to_seconds(self.run.start), "generation": self.generation})

        async def config(request: Request) -> Response:
            return JSONResponse({"config": self.run.config.to_dict(), "now": to_seconds(self.clock()),
                                 "start": to_seconds(self.run.start), "generation": self.generation})

        async def stats(request: Request) -> Response:
            return JSONResponse({**self.run.stats(self.clock()), "generation": self.generation})

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            self.close()  # a file log's last batch

        return Starlette(
            routes=[
                Route("/__admin/log", guarded(log), methods=["GET"]),
                Route("/__admin/reset", guarded(reset), methods=["POST"]),
                Route("/__admin/config", guarded(config), methods=["GET"]),
                Route("/__admin/stats", guarded(stats), methods=["GET"]),
            ],
            lifespan=lifespan,
        )

    def close(self) -> None:
        """Flush and close the log (the server's shutdown does this; in-process users call it)."""
        if self._run is not None:
            self._run.log.close()

    def reset(self, config: ServerConfig) -> None:
        """Start a fresh state with ``config`` (what ``POST /__admin/reset`` does, without its limits:
        a Python caller may also choose a new log file, inside ``log_dir``)."""
        self._pin_log_file(config)
        self.close()
        self._config = config
        self._run = RunState(config, self.clock, self.wall, self._log_path)
        self.generation += 1


def _count(query: Mapping[str, str], name: str, default: int, lowest: int, highest: int | None) -> int:
    """Query parameter ``name`` as a decimal integer in ``[lowest, highest]``; ``default`` when absent.

    >>> _count({"since": "10"}, "since", 0, 0, None), _count({}, "limit", 5, 1, 5)
    (10, 5)
    >>> _count({"limit": "9"}, "limit", 5, 1, 5)
    Traceback (most recent call last):
    ValueError: limit: must be an integer from 1 to 5, got '9'
    """
    raw = query.get(name)
    if raw is None:
        return default
    ok = raw.isascii() and raw.isdigit() and len(raw) <= 18
    if not ok or int(raw) < lowest or (highest is not None and int(raw) > highest):
        span = f"from {lowest} to {highest}" if highest is not None else f"of at least {lowest}"
        raise ValueError(f"{name}: must be an integer {span}, got {raw[:40]!r}")
    return int(raw)


async def _read_body(request: Request) -> bytes:
    """The request body, refused past :data:`MAX_BODY` bytes without reading the rest."""
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise BodyError(413, f"body: larger than {MAX_BODY} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise BodyError(400, "body: the client went away mid-body") from None
    return b"".join(chunks)


def create_app(config: ServerConfig, clock: Clock = time.monotonic_ns, *, wall: Wall | None = None,
               admin_token: str | None = None, admin_hosts: Collection[str] = (),
               log_dir: str | Path = LOG_DIR) -> MockApp:
    """The mock API for ``config``, reading ``clock`` (server time, integer ns) and ``wall`` (UTC epoch
    seconds).

    ``admin_token``: required on ``/__admin/*`` (give one whenever a socket can reach the app);
    ``admin_hosts``: ``Host`` names accepted there besides loopback; ``log_dir``: where ``log.file`` lives.
    """
    return MockApp(config, clock, wall, admin_token, admin_hosts, log_dir)
