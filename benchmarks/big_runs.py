"""Big runs in real mode: wall time, peak memory and CPU per request at 10³, 10⁴ and 10⁵ jobs (docs/big-runs.md).

    python benchmarks/big_runs.py [--jobs 1000,10000,100000] [--strategies unlimited,worker-pool]

Each (jobs, strategy) pair runs in a fresh child process (so its peak memory is its own): one run of
the harness's runner, real mock server on 127.0.0.1, no quota, no latency, every job released at once
(``release = "batch"``). ``unlimited`` puts every job in flight at once (one task per job; the
harness's client bounds the connections, the rest queue in it); ``worker-pool`` keeps
``concurrency = 1000`` in flight and pulls jobs from the harness's lazy workload as it goes. The child
reports the run's wall time (reset, sending, the server log, metrics), its peak resident memory
(``ru_maxrss``, with the figure before the run) and its CPU seconds (user + system) over the run; the
mock server is another process, not counted there: its own peak resident memory (``VmHWM``, Linux) is a
column of its own (it holds its arrival log for the run). Prints Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time

from bench.transport import DEFAULT_TRANSPORT

COMMAND = "make bench-big"
CONCURRENCY = 1000


def one(jobs: int, strategy: str, transport: str) -> dict[str, object]:
    """One run in this process; what the parent tabulates."""
    from bench import scenarios
    from bench.runner import run_one
    from bench.transport import RealServer
    from strategies.registry import resolve

    sc = scenarios.from_dict({"server": {"latency_ms": 0}, "workload": {"jobs": jobs, "release": "batch"},
                              "client": {"concurrency": CONCURRENCY, "timeout_s": 3600}}, f"big-{jobs}")
    cls = resolve(strategy)
    base_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with RealServer(transport=transport) as server:
        t0 = time.perf_counter()
        cpu0 = os.times()
        r = asyncio.run(run_one(cls, sc, server))
        cpu1 = os.times()
        wall = time.perf_counter() - t0
        server_mb = _peak_rss_mb(server.pid)
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"jobs": jobs, "strategy": strategy, "transport": transport, "status": r.status,
            "succeeded": r.metrics.succeeded, "attempts": r.metrics.attempts, "wall_s": wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "start_rss_mb": base_rss_kb / 1024, "cpu_s": cpu, "server_peak_rss_mb": server_mb,
            "harness_limited": r.harness.limited if r.harness else None}


def _peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory (``VmHWM``) in MB; ``None`` where /proc does not say."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", default="1000,10000,100000")
    ap.add_argument("--strategies", default="unlimited,worker-pool")
    ap.add_argument("--transport", default=DEFAULT_TRANSPORT)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child mode: one run, JSON out
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(int(args.jobs), args.strategies, args.transport)))
        return 0
    lines = ["| jobs | strategy | status | wall s | achieved rps | peak RSS MB (at start) | CPU s | CPU ms / request "
             "| harness-limited | server peak RSS MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for n in (int(x) for x in args.jobs.split(",")):
        for strategy in args.strategies.split(","):
            out = subprocess.run([sys.executable, __file__, "--one", "--jobs", str(n), "--strategies", strategy,
                                  "--transport", args.transport], capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                lines.append(f"| {n} | {strategy} | crashed ({out.returncode}) | | | | | | | |")
                continue
            d = json.loads(out.stdout.strip().splitlines()[-1])
            rps = d["succeeded"] / d["wall_s"]
            lines.append(f"| {n:,} | {strategy} | {d['status']} | {d['wall_s']:.1f} | {rps:.0f} | "
                         f"{d['peak_rss_mb']:.0f} ({d['start_rss_mb']:.0f}) | {d['cpu_s']:.1f} | "
                         f"{d['cpu_s'] / max(1, d['attempts']) * 1000:.3f} | {d['harness_limited']} | "
                         f"{_mb(d.get('server_peak_rss_mb'))} |")
            print(lines[-1], file=sys.stderr)
    load = os.getloadavg()
    print(f"`{COMMAND}` (= python benchmarks/big_runs.py --jobs {args.jobs} --strategies {args.strategies}), "
          f"transport {args.transport}, on {platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load average {load[0]:.1f} after the run.\n")
    print("\n".join(lines))
    return 0


def _mb(v: object) -> str:
    return f"{v:.0f}" if isinstance(v, float) else "–"


if __name__ == "__main__":
    sys.exit(main())
