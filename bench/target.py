"""``run --target URL``: the strategies against any HTTP API, with the quota the scenario declares.

The mock server is not there: nothing is reset, no admin endpoint is called, no arrival log can be
asked for. So:

* every API request goes to exactly ``URL`` (method GET, the harness's ``x-request-id`` and cost headers;
  the strategies see the same ``send`` as against the mock), through the harness client ``--transport`` names;
* the *arrivals* the burst metrics count are the client's own send times: the instant each request was
  handed to the connection (:class:`_Recording`), with the status that came back. A network between
  client and server can bunch or spread them, so the window counts, burst ratio and peak concurrency are
  the client's view; results.json says so (``meta.arrivals_source = "client"``) and the report marks
  every such figure in its table;
* burst metrics and compliance are judged against the scenario's *declared* quota (its ``[declared]``
  table, else its ``[[server.quota]]``), the oracle of ``efficiency`` too, with a service time of 0 (the
  target's is unknown): efficiency then understates by about latency ÷ makespan (docs/target.md).

Only ``http://`` and ``https://`` URLs are accepted, without user:password (it would be written into
results.json). Real clock only: the virtual clock must never jump while socket I/O is pending.

>>> check_url("http://127.0.0.1:8000/v1/items")
'http://127.0.0.1:8000/v1/items'
>>> check_url("file:///etc/passwd")
Traceback (most recent call last):
...
bench.target.TargetError: --target 'file:///etc/passwd': only http:// and https:// URLs (scheme 'file')
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from bench import watchdog
from bench.clock import loop_ns
from bench.records import CANCELLED, TRANSPORT_ERROR
from bench.runner import RunResult, run_one
from bench.scenarios import Scenario
from bench.transport import DEFAULT_LIMITS, DEFAULT_TIMEOUT, HTTPX_BOUNDED_LIMITS, ServerLog
from mock_server.config import (
    ConcurrencyConfig,
    ConfigError,
    DynamicsConfig,
    FaultsConfig,
    LatencyConfig,
    QuotaConfig,
    ServerConfig,
)
from mock_server.log import Arrival
from strategies.base import Strategy

__all__ = ["ARRIVALS_SOURCE", "TargetError", "TargetServer", "check_reachable", "check_url", "cooldown_s", "execute",
           "meta", "never_connected", "scenario_for"]

#: ``meta.arrivals_source`` of a target run: the burst metrics count the client's send times.
ARRIVALS_SOURCE = "client"


class TargetError(ValueError):
    """A ``--target`` that cannot be used (exit 2); the message names the value."""


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host and no credentials, else :class:`TargetError`.

    >>> check_url("https://user:pw@api.example.com/x")
    Traceback (most recent call last):
    ...
    bench.target.TargetError: --target: no user:password in the URL (it would be written into results.json)
    """
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as e:
        raise TargetError(f"--target {url!r}: not a URL ({e})") from None
    if u.scheme not in ("http", "https"):
        raise TargetError(f"--target {url!r}: only http:// and https:// URLs (scheme {u.scheme!r})")
    if not u.host:
        raise TargetError(f"--target {url!r}: no host")
    if u.userinfo:
        raise TargetError("--target: no user:password in the URL (it would be written into results.json)")
    return str(u)


def declared_quota(scenario: Scenario) -> tuple[QuotaConfig, ...]:
    """The quota the scenario declares, as policies the oracle can replay: its ``[declared]`` tiers
    (sliding windows, as documented quotas are read), else its server's own tiers."""
    decl = scenario.source.get("declared")
    if isinstance(decl, dict) and "quota" in decl:
        try:
            return ServerConfig.from_dict({"quota": decl["quota"]}, "declared").quota
        except ConfigError as e:  # the scenario loaded, so this cannot happen; say where if it does
            raise TargetError(f"declared.quota: {e}") from None
    return scenario.server.quota


def scenario_for(scenario: Scenario) -> Scenario:
    """The scenario as the harness models a foreign API: the declared quota as the one it enforces, no
    service time, no injected faults or dynamics (the target has its own, unknown). Its headers table
    stays: which status is a rate-limit rejection (``reject_status``) and the cost header name.

    >>> from bench import scenarios
    >>> s = scenario_for(scenarios.load("default"))
    >>> [(q.limit, q.window_s) for q in s.server.quota], s.server.latency_ms
    ([(20, 1.0)], 0.0)
    """
    if not scenario.declared.tiers:
        raise TargetError(f"scenario {scenario.name!r} declares no quota: a target run judges the target by the "
                          f"quota the scenario declares (add [declared] quota = [...] or [[server.quota]])")
    server = replace(scenario.server, quota=declared_quota(scenario), keys=(), latency=LatencyConfig(),
                     concurrency=ConcurrencyConfig(), faults=FaultsConfig(), dynamics=DynamicsConfig())
    return replace(scenario, server=server)


def meta(url: str) -> dict[str, Any]:
    """results.json ``meta`` additions of a target run."""
    return {"arrivals_source": ARRIVALS_SOURCE,
            "target": {"url": url,
                       "judged_against": "the scenario's declared quota (meta.resolved.server.quota)",
                       "oracle_service_ms": 0.0}}


class _Recording(httpx.AsyncBaseTransport):
    """Sends every request to the target URL and logs, per request, the instant it was handed to the
    connection (the client's clock, :func:`bench.clock.loop_ns`), the status, the requests then in
    flight and the declared cost. A request that never connected (:func:`never_connected`) reached no
    server and is not logged."""

    def __init__(self, inner: httpx.AsyncBaseTransport, url: httpx.URL, log: list[Arrival], cost_header: str,
                 now_ns: Callable[[], int]) -> None:
        self._inner, self._url, self._log, self._cost_header, self._now_ns = inner, url, log, cost_header, now_ns
        self._busy = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self._url  # the same origin as the client's base URL: the Host header already fits
        rid = request.headers.get("x-request-id", "")
        try:
            cost = max(1, int(request.headers.get(self._cost_header, "1")))
        except ValueError:
            cost = 1
        self._busy += 1
        t_ns, in_flight, status = self._now_ns(), self._busy, TRANSPORT_ERROR
        reached = True
        try:
            response = await self._inner.handle_async_request(request)
            status = response.status_code
            return response
        except httpx.TransportError as e:
            reached = not never_connected(e)
            raise
        except asyncio.CancelledError:
            status = CANCELLED
            raise
        finally:
            self._busy -= 1
            if reached:
                self._log.append(Arrival(rid, t_ns, status, "", in_flight, cost))

    async def aclose(self) -> None:
        await self._inner.aclose()


def never_connected(e: httpx.TransportError) -> bool:
    """Whether ``e`` says the connection was never made (refused, unresolvable, connect timeout): such a
    request reached no server. httpx-aiohttp maps aiohttp's ``ClientConnectorError`` (a refused connection)
    to ``httpx.ConnectTimeout`` and its connect timeout to a plain ``httpx.TimeoutException``, and also maps
    a server that dropped an open connection to ``ConnectTimeout``: so through aiohttp the cause decides.

    >>> never_connected(httpx.ConnectError("refused")), never_connected(httpx.ReadError("reset"))
    (True, False)
    """
    cause = e.__cause__
    if isinstance(cause, aiohttp.ClientError):
        return isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return isinstance(e, httpx.ConnectError | httpx.ConnectTimeout)


def check_reachable(url: str, timeout_s: float = 5.0) -> None:
    """One TCP connection to ``url``'s host and port, closed at once (no HTTP request, nothing counted
    against a quota); :class:`TargetError` naming the URL if it cannot be made, so that an unreachable
    target is a usage error before the first run, not a run of refused connections.

    >>> import socket as s; probe = s.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]
    >>> probe.close(); check_reachable(f"http://127.0.0.1:{port}/")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bench.target.TargetError: --target 'http://127.0.0.1:...': unreachable (...); nothing was run
    """
    u = httpx.URL(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        socket.create_connection((u.host, port), timeout=timeout_s).close()
    except OSError as e:
        raise TargetError(f"--target {url!r}: unreachable ({e or type(e).__name__}); nothing was run") from None


def _inner(transport: str, limits: httpx.Limits | None) -> httpx.AsyncBaseTransport:
    # The same client stacks as against the mock (bench.transport.TRANSPORTS), as bare transports.
    if transport.startswith("aiohttp"):
        return AiohttpTransport(limits=limits or DEFAULT_LIMITS, trust_env=False)
    return httpx.AsyncHTTPTransport(limits=limits or (HTTPX_BOUNDED_LIMITS if transport == "httpx"
                                                      else DEFAULT_LIMITS), trust_env=False)


class TargetServer:
    """The runner's :class:`bench.transport.Server` for a foreign API: a client aimed at ``url``, a reset
    that touches nothing (it only starts a new client-side log) and that log as the arrivals.

    ``inner`` replaces the network transport (tests: ``httpx.MockTransport``).
    """

    name = "target"

    def __init__(self, url: str, transport: str = "aiohttp", cost_header: str = "x-cost",
                 inner: Callable[[httpx.Limits | None], httpx.AsyncBaseTransport] | None = None) -> None:
        self.url = httpx.URL(check_url(url))
        self._transport = transport
        self._cost_header = cost_header
        self._inner = inner or (lambda limits: _inner(transport, limits))
        self._log: list[Arrival] = []

    @contextlib.asynccontextmanager
    async def client(self, limits: httpx.Limits | None = None) -> AsyncIterator[httpx.AsyncClient]:
        recording = _Recording(self._inner(limits), self.url, self._log, self._cost_header,
                               loop_ns(asyncio.get_running_loop()))
        async with httpx.AsyncClient(base_url=self.url, transport=recording, timeout=DEFAULT_TIMEOUT,
                                     trust_env=False) as c:
            yield c

    async def reset(self, config: ServerConfig) -> int | None:
        """No request to the target: a foreign server's state is not ours to reset."""
        self._log.clear()
        return None

    async def arrivals(self) -> ServerLog:
        return ServerLog(sorted(self._log, key=lambda a: a.t_ns), 0, ARRIVALS_SOURCE)


def cooldown_s(scenario: Scenario) -> float:
    """How long to leave the target alone between two runs: the longest declared window, so that the
    next run starts with a quota the previous one no longer uses (a foreign server cannot be reset).

    >>> from bench import scenarios
    >>> cooldown_s(scenario_for(scenarios.load("default")))
    1.0
    """
    return max((q.window_s for q in scenario.server.quota), default=0.0)


def execute(url: str, transport: str, scenario: Scenario, classes: Sequence[type[Strategy]], repeat: int,
            on_result: Callable[[RunResult], None], wait: Callable[[float], object] = time.sleep,
            on_start: Callable[[str, int], None] | None = None) -> None:
    """Every strategy × repeat against the target, under the watchdog, one at a time, :func:`cooldown_s`
    apart (no ceiling measurement: that would be a burst of requests at someone else's server). Repeats
    interleave, as against the mock: repeat 0 of every strategy, then repeat 1, ...
    ``wait`` blocks this (the orchestrating, not an event-loop) thread; a signal interrupts it."""
    pause = cooldown_s(scenario)
    first = True
    for k in range(repeat):
        for cls in classes:
            if not first and pause > 0:
                print(f"  (waiting {pause:g} s for the target's quota windows to clear)", file=sys.stderr)
                wait(pause)
            first = False
            server = TargetServer(url, transport, scenario.server.cost.header)
            if on_start is not None:
                on_start(cls.name, k)
            on_result(watchdog.run(run_one, cls, scenario, server, k, virtual=False).result)
