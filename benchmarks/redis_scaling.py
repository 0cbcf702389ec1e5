"""Per-acquire cost of the Redis-backed limiters with N client processes on one key (docs/scaling.md).

    python benchmarks/redis_scaling.py --processes 1,2,4,8 [--acquires 400]     # make bench-scaling

One private redis-server (bench.redis_server). For each N and each bucket (pyrate's Redis sliding log, pyrate's
GCRA), N worker processes start together (one start instant on CLOCK_MONOTONIC) and each makes ``--acquires``
uncontended acquires back to back on the same key (a rate so high that none waits: what is measured is the
round trip and the bookkeeping, as in benchmarks/test_overhead.py). Each worker reports its wall time and CPU
time; the table shows, per N, the median worker's wall µs and CPU µs per acquire, and the acquires per second
that Redis served for all N together. Every process and the redis-server share this machine's cores: beyond
the core count, the figures measure the scheduler as much as Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HUGE = 1_000_000_000
KINDS = ("log", "gcra")


async def _acquires(kind: str, n: int, t0_ns: int) -> tuple[float, float]:
    from pyrate_limiter import Duration, Limiter, Rate

    from strategies.base import REDIS_URL_ENV
    from strategies.pyrate_redis import connect, gcra_bucket, log_bucket

    client = connect(os.environ[REDIS_URL_ENV])
    bucket = (await log_bucket(client, [Rate(HUGE, Duration.SECOND)], key="scale-log") if kind == "log"
              else gcra_bucket(client, [Rate(HUGE, Duration.SECOND, burst=HUGE)], key="scale-gcra"))
    limiter = Limiter(bucket, buffer_ms=0)
    await limiter.try_acquire_async("warm-up")  # connection and script loaded before the clock starts
    await asyncio.sleep(max(0.0, (t0_ns - time.monotonic_ns()) / 1e9))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        await limiter.try_acquire_async("bench")
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    limiter.dispose(bucket)
    await client.aclose()
    return wall, cpu


def _worker(kind: str, n: int, t0_ns: int) -> None:
    wall, cpu = asyncio.run(_acquires(kind, n, t0_ns))
    print(json.dumps({"wall_s": wall, "cpu_s": cpu}))


def measure(kind: str, processes: int, acquires: int) -> dict[str, float]:
    t0_ns = time.monotonic_ns() + int((1.0 + 0.5 * processes) * 1e9)  # every interpreter is up by then
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", kind, str(acquires), str(t0_ns)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(processes)]
    try:
        outs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    walls = [o["wall_s"] for o in outs]
    return {"wall_us": statistics.median(walls) / acquires * 1e6,
            "cpu_us": statistics.median(o["cpu_s"] for o in outs) / acquires * 1e6,
            "total_per_s": processes * acquires / max(walls)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", default="1,2,4,8", help="comma-separated client process counts")
    ap.add_argument("--acquires", type=int, default=400, help="acquires per process")
    ap.add_argument("--worker", nargs=3, metavar=("KIND", "N", "T0_NS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
        return 0
    from bench import redis_server

    if (why := redis_server.unavailable()) is not None:
        print(f"redis_scaling: {why}", file=sys.stderr)
        return 2
    counts = [int(x) for x in args.processes.split(",")]
    print(f"# {args.acquires} uncontended acquires per process, {os.cpu_count()} CPUs, one redis-server\n")
    print("| bucket | processes | wall µs / acquire (median process) | CPU µs / acquire | acquires/s, all |")
    print("|---|---:|---:|---:|---:|")
    with redis_server.RedisServer() as r, redis_server.provide(r.url):
        for kind in KINDS:
            for n in counts:
                r.flush()
                m = measure(kind, n, args.acquires)
                name = "pyrate-redis (sliding log)" if kind == "log" else "pyrate-redis-gcra"
                print(f"| {name} | {n} | {m['wall_us']:,.0f} | {m['cpu_us']:,.0f} | {m['total_per_s']:,.0f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
