"""The harness's client transports side by side, on one server in one run: paced accuracy per rate.

    python benchmarks/transports.py [--rates 500,1000,2000] [--seconds 3] [--transports aiohttp,httpx,httpx-wide]

For each transport (``bench.transport.TRANSPORTS``) and each rate, the ``unlimited`` strategy sends a
no-quota, 1 ms-latency workload released open-loop at that rate for ``--seconds``; the table shows the
achieved rate (``throughput_rps``), the harness's own lag (release and send, p99) and the jobs' latency
p50/p99. Rates and transports interleave (rate-major), so a load change on the machine hits every
transport alike. Prints Markdown (docs/transports.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys

from bench import scenarios
from bench.runner import RunResult, run_one
from bench.transport import TRANSPORTS, RealServer
from strategies.registry import resolve

COMMAND = "make bench-transports"


def paced(rate: int, seconds: float) -> scenarios.Scenario:
    jobs = max(1, round(rate * seconds))
    return scenarios.from_dict({"server": {"latency_ms": 1},
                                "workload": {"jobs": jobs, "release": "rate", "rate": rate},
                                "client": {"concurrency": 1000, "timeout_s": 60}}, f"paced-{rate}")


def row(transport: str, rate: int, r: RunResult) -> str:
    m, lag = r.metrics, r.harness
    rel = "–" if lag is None or lag.release is None else f"{lag.release.p99_ms:.1f}"
    snd = "–" if lag is None or lag.send is None else f"{lag.send.p99_ms:.2f}"
    flag = " (harness-limited)" if lag is not None and lag.limited else ""
    achieved = m.throughput_rps or 0.0
    return (f"| {transport} | {rate} | {achieved:.1f} ({achieved / rate:.1%}) | {rel} | {snd} | "
            f"{m.latency_p50_ms or 0:.1f} | {m.latency_p99_ms or 0:.1f} | {r.status}{flag} |")


async def measure(transport: str, rates: list[int], seconds: float, server: RealServer) -> dict[int, RunResult]:
    server.transport = transport
    unlimited = resolve("unlimited")
    return {rate: await run_one(unlimited, paced(rate, seconds), server) for rate in rates}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="500,1000,2000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--transports", default=",".join(TRANSPORTS))
    args = ap.parse_args(argv)
    rates = [int(x) for x in args.rates.split(",")]
    names = args.transports.split(",")
    unknown = [n for n in names if n not in TRANSPORTS]
    if unknown:
        print(f"--transports: unknown {unknown}; choose from {list(TRANSPORTS)}", file=sys.stderr)
        return 2
    lines = ["| transport | target /s | achieved /s | release lag p99 ms | send lag p99 ms | latency p50 ms "
             "| latency p99 ms | status |", "|---|---|---|---|---|---|---|---|"]
    with RealServer() as server:
        for rate in rates:
            for name in names:
                r = asyncio.run(measure(name, [rate], args.seconds, server))[rate]
                lines.append(row(name, rate, r))
                print(lines[-1], file=sys.stderr)
    load = os.getloadavg()
    print(f"`{COMMAND}` (= python benchmarks/transports.py --rates {args.rates} --seconds {args.seconds:g}), "
          f"{args.seconds:g} s per rate, on {platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load average {load[0]:.1f} after the run.\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
