"""How many requests per second the mock server sustains, with the arrival log on and off.

``python -m mock_server.loadtest [--concurrency 50] [--duration 5] [--repeat 3]`` starts
``python -m mock_server`` (uvicorn + httptools + uvloop) on 127.0.0.1 in a child process and drives it
with a fast client in this process: ``concurrency`` keep-alive HTTP/1.1 connections, each sending the
next request as soon as the previous response is complete (closed loop), written as a bare asyncio
``Protocol`` so that the client is not the bottleneck (httpx tops out far below the server).

Each repetition resets the server (``POST /__admin/reset``) to each variant's config in turn, warms
up, then counts the responses completed in ``duration`` seconds. Variants differ only in
``[server.log]``: ``memory`` (the default sink), ``off``, and ``file`` (CSV in a temporary directory;
a log file is a start-up option, so that variant runs on a second server started with it).
Every variant enforces one never-binding sliding-log tier and sends ``x-ratelimit-*`` headers, so
the full decision path runs for every request. Traffic goes only to 127.0.0.1; every run is bounded in
time and in request count.

>>> parse_status(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\n{}")
(200, 2, 40)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from mock_server.process import ServerProcess

HOST = "127.0.0.1"  # never anything else: this floods whatever it points at

BASE_CONFIG: dict[str, Any] = {
    "quota": [{"algorithm": "sliding-log", "limit": 10_000_000, "window_s": 1.0}],
    "headers": {"dialect": "x-ratelimit"},
}


LOG_FILE = "arrivals.csv"  # inside the file server's --log-dir


def variant_config(name: str) -> dict[str, Any]:
    log = {"memory": {"limit": 1_000_000}, "off": {"enabled": False}, "file": {"file": LOG_FILE}}[name]
    return {**BASE_CONFIG, "log": log}


def parse_status(buf: bytes) -> tuple[int, int, int] | None:
    """``(status, content-length, bytes of the whole response)`` if ``buf`` starts with a complete
    response, else ``None``. Only what this client's own requests get back needs handling."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].lower()
    i = head.find(b"content-length:")
    length = 0
    if i >= 0:
        j = head.find(b"\r\n", i)
        length = int(head[i + 15:j if j >= 0 else len(head)])
    total = end + 4 + length
    if len(buf) < total:
        return None
    return int(buf[9:12]), length, total


class _Connection(asyncio.Protocol):
    """One keep-alive connection with one request in flight at a time."""

    def __init__(self, shared: _Shared, conn_id: int) -> None:
        self.shared = shared
        self.id = conn_id
        self.n = 0
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, but quacks
        self._send()

    def _send(self) -> None:
        self.n += 1
        assert self.transport is not None
        self.transport.write(b"GET /v1/items HTTP/1.1\r\nhost: %s\r\nx-request-id: %d.%d\r\n\r\n"
                             % (HOST.encode(), self.id, self.n))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        parsed = parse_status(self.buf)
        if parsed is None:
            return
        status, _, total = parsed
        self.buf = self.buf[total:]
        s = self.shared
        s.done += 1
        if s.counting:
            s.counted += 1
            s.statuses[status] += 1
        if s.stop or s.done >= s.max_requests:
            assert self.transport is not None
            self.transport.close()
        else:
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass
class _Shared:
    max_requests: int
    done: int = 0
    counted: int = 0
    counting: bool = False
    stop: bool = False

    def __post_init__(self) -> None:
        self.statuses: Counter[int] = Counter()


@dataclass(frozen=True)
class Measurement:
    variant: str
    requests: int
    seconds: float
    statuses: dict[int, int]
    server_cpu: float | None = None  # fraction of one core used by the server while measured
    client_cpu: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def per_cpu_s(self) -> float | None:
        """Requests per second of server CPU: the server's cost per request, robust to other processes
        taking CPU from it (throughput alone drops when they do)."""
        return self.rps / self.server_cpu if self.server_cpu else None


async def drive(port: int, concurrency: int, duration_s: float, warmup_s: float, max_requests: int,
                variant: str = "", server_pid: int | None = None) -> Measurement:
    """Closed-loop load from ``concurrency`` connections; counts responses completed in the measured
    ``duration_s`` after ``warmup_s``. Stops early after ``max_requests`` responses in all."""
    loop = asyncio.get_running_loop()
    shared = _Shared(max_requests)
    conns = []
    for i in range(concurrency):
        _, proto = await loop.create_connection(lambda i=i: _Connection(shared, i), HOST, port)  # type: ignore[misc]
        conns.append(proto)
    await asyncio.sleep(warmup_s)
    shared.counting = True
    t0, s0, c0 = loop.time(), cpu_seconds(server_pid) if server_pid else None, time.process_time()
    await asyncio.sleep(duration_s)
    shared.counting = False
    elapsed = loop.time() - t0
    s1, c1 = cpu_seconds(server_pid) if server_pid else None, time.process_time()
    shared.stop = True
    await asyncio.wait_for(asyncio.gather(*(c.closed for c in conns)), 30)
    server_cpu = (s1 - s0) / elapsed if s0 is not None and s1 is not None else None
    return Measurement(variant, shared.counted, elapsed, dict(shared.statuses), server_cpu, (c1 - c0) / elapsed)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``; ``None`` elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _admin(server: ServerProcess, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    import httpx  # the control plane can be slow; only the load has to be fast

    r = httpx.request(method, f"{server.base_url}{path}", json=body, headers=server.admin_headers, timeout=60,
                      trust_env=False)
    r.raise_for_status()
    result: dict[str, Any] = r.json()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mock_server.loadtest", description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per run (max 60)")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", default="memory,off,file", help="comma-separated: memory, off, file")
    ap.add_argument("--max-requests", type=int, default=2_000_000, help="per run, warm-up included")
    ap.add_argument("--json", action="store_true", help="print the measurements as JSON too")
    args = ap.parse_args(argv)
    variants = args.variants.split(",")
    if not 1 <= args.concurrency <= 1000 or not 0 < args.duration <= 60 or not 1 <= args.repeat <= 20:
        ap.error("--concurrency 1..1000, --duration (0, 60], --repeat 1..20")

    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass

    def run(coro: Coroutine[Any, Any, Measurement]) -> Measurement:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(coro)

    results: list[Measurement] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        plain = stack.enter_context(ServerProcess(HOST))
        servers = {v: plain for v in variants}
        if "file" in variants:
            servers["file"] = stack.enter_context(
                ServerProcess(HOST, extra_args=("--log-dir", tmp, "--log-file", LOG_FILE)))
        for rep in range(args.repeat):
            # Rotate the order so that no variant always runs first (warm caches, CPU boost).
            order = variants[rep % len(variants):] + variants[:rep % len(variants)]
            for v in order:
                server = servers[v]
                _admin(server, "POST", "/__admin/reset", variant_config(v))
                m = run(drive(server.port, args.concurrency, args.duration, args.warmup, args.max_requests, v,
                              server.pid))
                logged = _admin(server, "GET", "/__admin/stats")["logged"]
                results.append(m)
                cpu = (f"server CPU {m.server_cpu:.0%}, " if m.server_cpu is not None else "") + \
                    f"client CPU {m.client_cpu:.0%}"
                print(f"run {rep + 1} {v:>6}: {m.rps:8.0f} req/s  ({m.requests} in {m.seconds:.2f} s, "
                      f"{cpu}, statuses {m.statuses}, logged {logged})", file=sys.stderr)

    def median(variant: str, attr: str) -> float | None:
        xs = [getattr(m, attr) for m in results if m.variant == variant]
        return statistics.median(xs) if None not in xs else None

    def versus(variant: str, attr: str) -> str:
        x, off = median(variant, attr), median("off", attr) if "off" in variants else None
        return f"{(x / off - 1) * 100:+.1f} %" if x and off else ""

    print(f"\nmock server on {HOST}, uvicorn+httptools, {os.cpu_count()} CPUs, concurrency {args.concurrency}, "
          f"{args.duration:g} s x {args.repeat} per variant (medians):")
    print("| log sink | req/s | vs off | req per server CPU-s | vs off |")
    print("|---|---:|---:|---:|---:|")
    for v in variants:
        per_cpu = median(v, "per_cpu_s")
        print(f"| {v} | {median(v, 'rps'):.0f} | {versus(v, 'rps')} | "
              f"{'' if per_cpu is None else f'{per_cpu:.0f}'} | {versus(v, 'per_cpu_s')} |")
    if args.json:
        print(json.dumps([{"variant": m.variant, "rps": m.rps, "requests": m.requests, "seconds": m.seconds,
                           "server_cpu": m.server_cpu, "client_cpu": m.client_cpu} for m in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
