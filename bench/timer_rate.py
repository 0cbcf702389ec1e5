"""How fast ``TokenBucket(rate, capacity=1)`` really grants: on a real loop, and in modelled virtual time.

A capacity-1 bucket counts each token from the instant it is handed out, so every late timer delays
every later grant: on a real Linux loop ``TokenBucket(1000, capacity=1)`` reaches well under 100 % of
its rate, and a virtual loop without a timer model says 100 %. With the default profile
(``bench.netmodel``) the virtual figure should match the real one::

    python -m bench.timer_rate [--profile NAME|FILE] [--rate 1000] [--tokens 1000] [--repeat 3]

prints both, side by side. :func:`virtual_fraction` is deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Sequence

from bench import clock, netmodel
from strategies.token_bucket import TokenBucket

__all__ = ["real_fraction", "virtual_fraction"]


async def _grant_rate(rate: float, tokens: int) -> float:
    """Tokens per second granted by a capacity-1 bucket to one task acquiring in a loop."""
    bucket = TokenBucket(rate, capacity=1)
    loop = asyncio.get_running_loop()
    await bucket.acquire()
    t0 = loop.time()
    for _ in range(tokens):
        await bucket.acquire()
    return tokens / (loop.time() - t0)


def real_fraction(rate: float = 1000, tokens: int = 1000) -> float:
    """The fraction of ``rate`` reached on a fresh real asyncio loop (takes ~``tokens / rate`` s)."""
    return asyncio.run(_grant_rate(rate, tokens)) / rate


def virtual_fraction(profile: netmodel.Profile | None, seed: int = 0, rate: float = 1000,
                     tokens: int = 1000) -> float:
    """The same, in virtual time with ``profile``'s timer model (``None``: no lateness, exactly 1.0).

        >>> virtual_fraction(None, tokens=10)
        1.0
    """
    model = netmodel.RunModel.build(profile, seed)
    return clock.run(_grant_rate(rate, tokens), timers=model.timers) / rate


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.timer_rate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default=netmodel.DEFAULT, help="profile for the virtual figure (name or file)")
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--tokens", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if args.rate <= 0 or args.tokens < 1 or args.repeat < 1:
        print("timer_rate: --rate > 0, --tokens >= 1 and --repeat >= 1 please", file=sys.stderr)
        return 2
    try:
        profile = netmodel.load_profile(args.profile)
    except netmodel.ProfileError as e:
        print(f"timer_rate: {e}", file=sys.stderr)
        return 2
    real = [real_fraction(args.rate, args.tokens) for _ in range(args.repeat)]
    virt = [virtual_fraction(profile, k, args.rate, args.tokens) for k in range(args.repeat)]
    rm, vm = statistics.median(real), statistics.median(virt)
    print(f"TokenBucket({args.rate:g}, capacity=1), {args.tokens} tokens, median of {args.repeat}:")
    print(f"  real loop     {rm:6.1%}   ({', '.join(f'{x:.1%}' for x in real)})")
    print(f"  virtual loop  {vm:6.1%}   profile {args.profile!r} ({', '.join(f'{x:.1%}' for x in virt)})")
    print(f"  difference    {(vm - rm) * 100:+5.1f} percentage points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
