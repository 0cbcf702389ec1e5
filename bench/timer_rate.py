"""How fast ``TokenBucket(rate, capacity=1)`` and the frontier limiter really grant: on a real loop, and in
modelled virtual time.

A capacity-1 bucket counts each token from the instant it is handed out, so every late timer delays
every later grant: on a real Linux loop ``TokenBucket(1000, capacity=1)`` reaches well under 100 % of
its rate, and a virtual loop without a timer model says 100 %. With the default profile
(``bench.netmodel``) the virtual figure should match the real one::

    python -m bench.timer_rate [--profile NAME|FILE] [--rate 1000] [--tokens 1000] [--repeat 3]

prints both, side by side. :func:`virtual_fraction` is deterministic for a given seed.

The same for :class:`strategies.frontier.FrontierLimiter` at the same rate, declared as ``limit`` per
``window_s`` (``--frontier 1000/1,100/0.1,10/0.01``: 1 000/s as 1 000 per second, 100 per 100 ms, 10 per
10 ms). It grants a window's ``limit`` at once, so its rate is measured over whole windows: ``k·limit + 1``
grants to one task acquiring in a loop take at least ``k`` windows, and the figure is ``k·window_s``
divided by the time they took (the same ratio as the bucket's with ``limit = 1``). It loses a timer's
lateness once per window, not once per token: the shorter the window, the larger the loss.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Sequence

from bench import clock, netmodel
from strategies.frontier import FrontierLimiter
from strategies.token_bucket import TokenBucket

__all__ = ["real_fraction", "real_frontier_fraction", "virtual_fraction", "virtual_frontier_fraction"]


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


async def _frontier_rate(limit: int, window_s: float, windows: int) -> float:
    """``windows · window_s`` over the time ``windows · limit + 1`` grants took (1.0: on the frontier)."""
    limiter = FrontierLimiter((limit, window_s))
    loop = asyncio.get_running_loop()
    async with limiter:
        t0 = loop.time()
    for _ in range(windows * limit):
        async with limiter:  # nothing inside: the send "ends" at its grant
            pass
    return windows * window_s / (loop.time() - t0)


def real_frontier_fraction(limit: int = 100, window_s: float = 0.1, windows: int = 10) -> float:
    """The fraction of ``limit / window_s`` a :class:`FrontierLimiter` reaches on a fresh real asyncio loop
    (takes ``windows · window_s`` s)."""
    return asyncio.run(_frontier_rate(limit, window_s, windows))


def virtual_frontier_fraction(profile: netmodel.Profile | None, seed: int = 0, limit: int = 100,
                              window_s: float = 0.1, windows: int = 10) -> float:
    """The same in virtual time with ``profile``'s timer model (``None``: no lateness, exactly 1.0).

        >>> virtual_frontier_fraction(None, limit=10, window_s=0.01, windows=3)
        1.0
    """
    model = netmodel.RunModel.build(profile, seed)
    return clock.run(_frontier_rate(limit, window_s, windows), timers=model.timers)


def _frontier_tiers(spec: str) -> list[tuple[int, float]]:
    """``"1000/1,100/0.1"`` → ``[(1000, 1.0), (100, 0.1)]``; ``""`` → none."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        limit, sep, window = part.partition("/")
        try:
            tier = (int(limit), float(window))
        except ValueError:
            tier = (0, 0.0)
        if not sep or tier[0] < 1 or not (0 < tier[1] < float("inf")):
            raise ValueError(f"--frontier: {part!r} is not LIMIT/WINDOW_S (an integer >= 1 per a window > 0 s)")
        out.append(tier)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.timer_rate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default=netmodel.DEFAULT, help="profile for the virtual figure (name or file)")
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--tokens", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--frontier", default="1000/1,100/0.1,10/0.01", metavar="LIMIT/WINDOW_S,...",
                    help="FrontierLimiter tiers to measure ('' for none); each over max(2, tokens // limit) windows")
    args = ap.parse_args(argv)
    if args.rate <= 0 or args.tokens < 1 or args.repeat < 1:
        print("timer_rate: --rate > 0, --tokens >= 1 and --repeat >= 1 please", file=sys.stderr)
        return 2
    try:
        profile = netmodel.load_profile(args.profile)
        tiers = _frontier_tiers(args.frontier)
    except (netmodel.ProfileError, ValueError) as e:
        print(f"timer_rate: {e}", file=sys.stderr)
        return 2
    real = [real_fraction(args.rate, args.tokens) for _ in range(args.repeat)]
    virt = [virtual_fraction(profile, k, args.rate, args.tokens) for k in range(args.repeat)]
    rm, vm = statistics.median(real), statistics.median(virt)
    print(f"TokenBucket({args.rate:g}, capacity=1), {args.tokens} tokens, median of {args.repeat}:")
    print(f"  real loop     {rm:6.1%}   ({', '.join(f'{x:.1%}' for x in real)})")
    print(f"  virtual loop  {vm:6.1%}   profile {args.profile!r} ({', '.join(f'{x:.1%}' for x in virt)})")
    print(f"  difference    {(vm - rm) * 100:+5.1f} percentage points")
    for limit, window_s in tiers:
        k = max(2, args.tokens // limit)
        real = [real_frontier_fraction(limit, window_s, k) for _ in range(args.repeat)]
        virt = [virtual_frontier_fraction(profile, s, limit, window_s, k) for s in range(args.repeat)]
        rm, vm = statistics.median(real), statistics.median(virt)
        print(f"FrontierLimiter(({limit}, {window_s:g})) = {limit / window_s:g}/s, {k} windows, "
              f"median of {args.repeat}:")
        print(f"  real loop     {rm:6.1%}   ({', '.join(f'{x:.1%}' for x in real)})")
        print(f"  virtual loop  {vm:6.1%}   profile {args.profile!r} ({', '.join(f'{x:.1%}' for x in virt)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
