"""Time the full virtual matrix: every built-in scenario × every strategy (``make bench-virtual-matrix``).

    python benchmarks/virtual_matrix.py [--budget 60] [--scenarios a,b] [--keep DIR]

For each built-in scenario it runs the command a user runs,
``python -m bench run --clock virtual --strategies all --scenario NAME``, in a fresh interpreter
(start-up, the runs, results and the report included), into a temporary directory, and prints its
wall and CPU seconds; then the total against the budget (issue 7 item 8: under 60 s on 2 cores).
CPU seconds are what the machine's load does not inflate: on a shared machine read them too.
Exit 1 when the total wall time is over the budget or a run failed.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import scenarios


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_scenario(name: str, out: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, exit code) of one ``bench run --clock virtual --strategies all``."""
    cpu0, t0 = _cpu_children(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--clock", "virtual", "--strategies", "all",
                           "--scenario", name, "--out", str(out)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall, cpu = time.perf_counter() - t0, _cpu_children() - cpu0
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return wall, cpu, proc.returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60.0, help="seconds for the whole matrix (default 60)")
    p.add_argument("--scenarios", default="", help="comma-separated subset (default: every built-in)")
    p.add_argument("--keep", type=Path, help="write the run directories here instead of a temporary directory")
    args = p.parse_args(argv)
    names = [n for n in args.scenarios.split(",") if n] or scenarios.comparison_names()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        total_wall = total_cpu = 0.0
        failed = []
        print(f"{'scenario':<28} {'wall s':>8} {'CPU s':>8}")
        for name in names:
            wall, cpu, rc = time_scenario(name, out)
            total_wall += wall
            total_cpu += cpu
            if rc != 0:
                failed.append(f"{name} (exit {rc})")
            print(f"{name:<28} {wall:8.2f} {cpu:8.2f}" + ("" if rc == 0 else f"  exit {rc}"), flush=True)
    print(f"{'total':<28} {total_wall:8.2f} {total_cpu:8.2f}   budget {args.budget:g} s wall, "
          f"{len(names)} scenarios")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    over = total_wall > args.budget
    if over:
        print(f"over budget by {total_wall - args.budget:.1f} s", file=sys.stderr)
    return 1 if failed or over else 0


if __name__ == "__main__":
    raise SystemExit(main())
