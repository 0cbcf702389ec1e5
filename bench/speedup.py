"""Wall time of the full matrix — every strategy × every built-in scenario — in real and in virtual time.

    python -m bench.speedup [--scenarios a,b|all] [--strategies LIST|all] [--clock both|real|virtual]

Times only the runs themselves (one repeat each, as ``bench run`` does them: a fresh server state per
run, real uvicorn on 127.0.0.1 or in-process under the virtual loop with the default profile), not
report or chart generation, and prints both totals and the ratio per scenario and overall. Writes
nothing. The real matrix takes about as long as the strategies' schedules: ~17 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from bench import netmodel, scenarios
from bench.runner import run_one, run_virtual
from bench.scenarios import Scenario, ScenarioError
from bench.transport import RealServer, ServerError
from strategies import registry
from strategies.base import Strategy
from strategies.registry import UnknownStrategy


def _wall() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)  # real even where the virtual loop patches time


def real_wall(scenario: Scenario, classes: Sequence[type[Strategy]]) -> float:
    """Seconds to run every strategy once against the real server (server start-up excluded)."""
    async def all_runs(server: RealServer) -> float:
        t0 = _wall()
        for cls in classes:
            await run_one(cls, scenario, server)
        return _wall() - t0

    with RealServer() as server:
        return asyncio.run(all_runs(server))


def virtual_wall(scenario: Scenario, classes: Sequence[type[Strategy]], profile: netmodel.Profile | None) -> float:
    t0 = _wall()
    for cls in classes:
        run_virtual(cls, scenario, 0, profile)
    return _wall() - t0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.speedup", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default="all")
    ap.add_argument("--strategies", default="all")
    ap.add_argument("--clock", choices=("both", "real", "virtual"), default="both")
    ap.add_argument("--profile", default=netmodel.DEFAULT)
    args = ap.parse_args(argv)
    try:
        names = scenarios.comparison_names() if args.scenarios == "all" else args.scenarios.split(",")
        chosen = [scenarios.load(n) for n in names]
        classes = [registry.resolve(n) for n in registry.parse_list(args.strategies)]
        # Virtual time cannot run a strategy whose state is in Redis (bench.redis_server): no speed-up to measure.
        if no := [c.name for c in classes if "redis" in c.requires]:
            print(f"speedup: not timed (virtual time cannot use a redis-server): {', '.join(no)}", file=sys.stderr)
            classes = [c for c in classes if "redis" not in c.requires]
        profile = netmodel.load_profile(args.profile)
    except (ScenarioError, UnknownStrategy, netmodel.ProfileError) as e:
        print(f"speedup: {e}", file=sys.stderr)
        return 2
    total_real = total_virtual = 0.0
    print(f"{len(classes)} strategies × {len(chosen)} scenarios, one run each; wall seconds (runs only)")
    print(f"{'scenario':<22} {'real':>8} {'virtual':>8} {'speed-up':>9}")
    try:
        for sc in chosen:
            v = virtual_wall(sc, classes, profile) if args.clock != "real" else None
            r = real_wall(sc, classes) if args.clock != "virtual" else None
            total_real += r or 0.0
            total_virtual += v or 0.0
            print(_line(sc.name, r, v), flush=True)
    except (ServerError, KeyboardInterrupt) as e:
        print(f"speedup: stopped ({e!r})", file=sys.stderr)
        return 1
    print(_line("all", total_real if args.clock != "virtual" else None,
                total_virtual if args.clock != "real" else None))
    return 0


def _line(name: str, real: float | None, virtual: float | None) -> str:
    """One row; a clock that was not run shows as "–".

        >>> _line("default", 233.1, 10.43)
        'default                   233.1    10.43       22×'
    """
    r = "–" if real is None else f"{real:.1f}"
    v = "–" if virtual is None else f"{virtual:.2f}"
    ratio = f"{real / virtual:.0f}×" if real is not None and virtual else "–"
    return f"{name:<22} {r:>8} {v:>8} {ratio:>9}"


if __name__ == "__main__":
    sys.exit(main())
