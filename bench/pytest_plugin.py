"""A pytest plugin for testing your own rate-limited client against the mock API (docs/pytest-plugin.md).

Installed with ratebench (a ``pytest11`` entry point), it gives every test the ``mock_api`` fixture: call it
with a quota to get a fresh mock API — in this process under virtual time (default: a 20-second pacing test
takes milliseconds and gives the same timeline every run), or a real uvicorn server on 127.0.0.1
(``real=True``) — then check the server's own arrival log::

    def test_my_client_keeps_to_the_quota(mock_api):
        api = mock_api(limit=5, window_s=1.0)

        async def main(client: httpx.AsyncClient) -> None:
            await my_client.fetch_all(client, 20)

        api.run(main)                     # virtual time: the whole run takes milliseconds
        api.assert_no_429()
        api.assert_max_in_window(5, 1.0)  # no 1 s window [t, t + 1) saw more than 5 arrivals

The window count is :func:`bench.metrics.peak_window_count`, the same function that computes
``peak_window_count`` and ``burst_ratio`` in a benchmark run.

>>> api = MockAPI(mock_server.config.ServerConfig.from_dict({"quota": [{"limit": 2, "window_s": 1.0}]}))
>>> async def three(client: httpx.AsyncClient) -> list[int]:
...     return [(await client.get("/v1/items")).status_code for _ in range(3)]
>>> api.run(three)
[200, 200, 429]
>>> peak_in_window(api.arrivals, 1.0)
3
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import pytest

import mock_server.config
from bench import clock, metrics
from mock_server import ticks
from mock_server.app import MockApp, create_app
from mock_server.config import ServerConfig
from mock_server.log import Arrival, from_json

__all__ = ["MockAPI", "MockAPIFactory", "assert_max_in_window", "assert_no_429", "mock_api", "peak_in_window"]

_T = TypeVar("_T")
#: A full server config: a ``ServerConfig``, the ``[server]`` table as a dict, or a TOML file path.
ConfigSource = ServerConfig | Mapping[str, Any] | str | os.PathLike[str]
#: The base URL of the in-process API (no socket: requests go through ``httpx.ASGITransport``).
IN_PROCESS_URL = "http://mock"


def _loop_ns() -> int:
    # The app reads whichever loop runs it: the virtual loop of MockAPI.run, or a real one (pytest-asyncio).
    return clock.loop_ns(asyncio.get_running_loop())()


def peak_in_window(arrivals: Sequence[Arrival], window_s: float) -> int:
    """The most arrivals (any status) in any half-open window ``[t, t + window_s)``."""
    return metrics.peak_window_count_ns((a.t_ns for a in arrivals), ticks.from_seconds(window_s))


def _first_excess(arrivals: Sequence[Arrival], limit: int, window_s: float) -> int:
    """Index (in time order) of the first arrival that made some window hold more than ``limit``.

    The prefix peak only grows with the prefix, so a binary search over prefixes finds it with the one
    window-counting implementation rather than a second one.
    """
    lo, hi = limit, len(arrivals) - 1  # the answer k: peak(arrivals[:k + 1]) > limit, peak(arrivals[:k]) <= limit
    while lo < hi:
        mid = (lo + hi) // 2
        if peak_in_window(arrivals[: mid + 1], window_s) > limit:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _rid(a: Arrival) -> str:
    return f" (request id {a.request_id!r})" if a.request_id else ""


def _times(arrivals: Sequence[Arrival], n: int = 12) -> str:
    shown = ", ".join(f"{a.t:.3f}" for a in arrivals[:n])
    return shown + (f", … ({len(arrivals)} in all)" if len(arrivals) > n else "")


def assert_max_in_window(arrivals: Sequence[Arrival], limit: int, window_s: float) -> None:
    """Fail unless every window ``[t, t + window_s)`` holds at most ``limit`` arrivals (any status).

    >>> assert_max_in_window([Arrival("a", 0, 200), Arrival("b", 1_000_000_000, 200)], 1, 1.0)
    >>> assert_max_in_window([Arrival("a", 0, 200), Arrival("b", 500_000_000, 200)], 1, 1.0)
    Traceback (most recent call last):
    AssertionError: 2 arrivals in one 1 s window (limit 1): arrival 2 (request id 'b') at t=0.500000 s was ...
    """
    ordered = sorted(arrivals, key=lambda a: a.t)
    peak = peak_in_window(ordered, window_s)
    if peak <= limit:
        return
    k = _first_excess(ordered, limit, window_s)
    a = ordered[k]
    raise AssertionError(
        f"{peak} arrivals in one {window_s:g} s window (limit {limit}): arrival {k + 1}{_rid(a)} at "
        f"t={a.t:.6f} s was one too many; arrival times: {_times(ordered)}")


def assert_no_429(arrivals: Sequence[Arrival], statuses: Sequence[int] = (429,)) -> None:
    """Fail if the server rejected any request (``statuses``: 429, and 403 for GitHub-style APIs).

    >>> assert_no_429([Arrival("a", 0, 200), Arrival("b", 250_000_000, 429)])
    Traceback (most recent call last):
    AssertionError: 1 of 2 requests rejected (429): first at t=0.250000 s (request id 'b')
    """
    rejected = [a for a in sorted(arrivals, key=lambda a: a.t) if a.status in statuses]
    if rejected:
        first = rejected[0]
        raise AssertionError(f"{len(rejected)} of {len(arrivals)} requests rejected "
                             f"({'/'.join(map(str, statuses))}): first at t={first.t:.6f} s{_rid(first)}")


class MockAPI:
    """A mock API with one quota: in process under virtual time, or (``real=True``) a uvicorn server.

    ``url`` is its base URL; ``transport`` (in process only) the ``httpx`` transport to reach it;
    ``arrivals`` the server's log of the last :meth:`run` (or, for a real server, since the last reset),
    times in seconds since that reset. Every :meth:`run` starts from a fresh server state.
    """

    def __init__(self, config: ServerConfig, *, real: bool = False) -> None:
        self.config = config
        self.real = real
        self._stack = contextlib.ExitStack()
        self._arrivals: list[Arrival] = []
        self._app: MockApp | None = None
        self._server: Any = None  # bench.transport.RealServer, imported only when used
        self._t0_ns = 0
        if real:
            from bench.transport import RealServer

            self._server = self._stack.enter_context(RealServer())
            self.url: str = self._server.base_url
            self.reset()
        else:
            self._app = create_app(config, clock=_loop_ns)
            self._stack.callback(self._app.close)
            self.url = IN_PROCESS_URL

    @property
    def rejected_statuses(self) -> tuple[int, ...]:
        """What this API answers an over-quota request with (429, or the configured ``reject_status``)."""
        return tuple(sorted({429, self.config.headers.reject_status}))

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        """The in-process transport: ``httpx.AsyncClient(transport=api.transport, base_url=api.url)``."""
        if self._app is None:
            raise RuntimeError("a real server has no in-process transport: use api.url")
        return httpx.ASGITransport(self._app)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` aimed at the API (in process or over 127.0.0.1)."""
        # Our own server: never routed through an HTTP proxy named in the environment (unless asked).
        kwargs.setdefault("trust_env", False)
        if self._app is not None:
            return httpx.AsyncClient(transport=self.transport, base_url=self.url, **kwargs)
        return httpx.AsyncClient(base_url=self.url, **kwargs)

    def reset(self) -> None:
        """A fresh server state: quota counters and arrival log (a real server only; :meth:`run` resets)."""
        if self._server is None:
            raise RuntimeError("the in-process API is reset by each api.run()")
        asyncio.run(self._server.reset(self.config))
        self._t0_ns = time.monotonic_ns()  # the server's clock too (system-wide monotonic on Linux)
        self._arrivals = []

    def run(self, main: Callable[[httpx.AsyncClient], Awaitable[_T]]) -> _T:
        """Run ``main(client)`` against a fresh API and return its result.

        In process, it runs on a virtual-time loop (:func:`bench.clock.run`: ``asyncio.sleep`` and
        ``time.monotonic`` follow a clock that jumps to the next timer); with a real server, under
        ``asyncio.run``. Afterwards :attr:`arrivals` holds this run's server log.
        """
        if self._app is None:
            self.reset()

        app = self._app

        async def wrapped() -> _T:
            if app is not None:
                app.reset(self.config)  # a fresh state whose epoch is this loop's t=0
            async with self.client() as c:
                return await main(c)

        try:
            return clock.run(wrapped()) if app is not None else asyncio.run(wrapped())
        finally:
            self._arrivals = self._read_log()

    def _read_log(self) -> list[Arrival]:
        if self._app is not None:
            start = self._app.run.start
            return [replace(a, t_ns=a.t_ns - start) for a in from_json(self._app.run.log.to_json())]
        log = asyncio.run(self._server.arrivals())
        return [replace(a, t_ns=a.t_ns - self._t0_ns) for a in log.arrivals]

    @property
    def arrivals(self) -> list[Arrival]:
        """The server's arrival log: one :class:`~mock_server.log.Arrival` per request (id, time, status)."""
        if self._server is not None:
            self._arrivals = self._read_log()
        return list(self._arrivals)

    def assert_no_429(self) -> None:
        """Fail if the server rejected any request of the last run (429 or the API's ``reject_status``)."""
        assert_no_429(self.arrivals, self.rejected_statuses)

    def assert_max_in_window(self, limit: int, window_s: float) -> None:
        """Fail if some window ``[t, t + window_s)`` saw more than ``limit`` arrivals."""
        assert_max_in_window(self.arrivals, limit, window_s)

    def close(self) -> None:
        """Stop the server (the fixture does this at teardown)."""
        self._stack.close()


def _config(limit: int | None, window_s: float, algorithm: str, burst: int | None, latency_ms: float,
            config: ConfigSource | None) -> ServerConfig:
    if config is not None:
        if limit is not None:
            raise TypeError("mock_api: give either limit/window_s or config, not both")
        if isinstance(config, ServerConfig):
            return config
        if isinstance(config, Mapping):
            return ServerConfig.from_dict(config)
        return mock_server.config.load(Path(config))
    if limit is None:
        raise TypeError("mock_api: give a quota (limit=..., window_s=...) or a config")
    tier: dict[str, Any] = {"algorithm": algorithm, "limit": limit, "window_s": window_s}
    if burst is not None:
        tier["burst"] = burst
    return ServerConfig.from_dict({"quota": [tier], "latency_ms": latency_ms})


class MockAPIFactory(Protocol):
    """The type of the ``mock_api`` fixture, for annotating tests: ``def test_x(mock_api: MockAPIFactory)``."""

    def __call__(self, limit: int | None = None, window_s: float = 1.0, *, algorithm: str = "sliding-log",
                 burst: int | None = None, latency_ms: float = 0.0, real: bool = False,
                 config: ConfigSource | None = None) -> MockAPI: ...


@pytest.fixture
def mock_api() -> Iterator[MockAPIFactory]:
    """Make mock APIs for this test; every one is stopped at teardown, also when the test fails.

    ``mock_api(limit, window_s=1.0, *, algorithm="sliding-log", burst=None, latency_ms=0.0, real=False)``,
    or ``mock_api(config=...)`` with a full server config (a ``ServerConfig``, the ``[server]`` table as
    a dict, or a TOML file: docs/scenarios.md), returns a :class:`MockAPI`.
    """
    made: list[MockAPI] = []

    def make(limit: int | None = None, window_s: float = 1.0, *, algorithm: str = "sliding-log",
             burst: int | None = None, latency_ms: float = 0.0, real: bool = False,
             config: ConfigSource | None = None) -> MockAPI:
        api = MockAPI(_config(limit, window_s, algorithm, burst, latency_ms, config), real=real)
        made.append(api)
        return api

    try:
        yield make
    finally:
        for api in made:
            api.close()
