"""Charts. The only module that imports matplotlib (lazily, with the non-interactive Agg backend)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from bench.records import Arrival
from strategies.base import Quota, Tier

BIN_S = 0.1


def timeline(path: Path, series: Sequence[tuple[str, Sequence[Arrival]]], tiers: Sequence[Tier]) -> Path:
    """Server arrivals per 100 ms for each strategy, as small multiples on one shared time axis.

    Bars are split by outcome (accepted / rejected / other); the dashed line is the binding tier's
    quota spread evenly over a 100 ms bin (L × 0.1 / W): above it for long means over the limit.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(series))
    t_end = max((a.t for _, arr in series for a in arr), default=1.0)
    bins = max(1, math.ceil((t_end + 1e-9) / BIN_S))
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.3 * n + 0.8), sharex=True, squeeze=False)
    binding = Quota(tuple(tiers)).binding
    for ax, (name, arrivals) in zip(axes[:, 0], series, strict=True):
        ok, rejected, other = [0] * bins, [0] * bins, [0] * bins
        for a in arrivals:
            i = min(bins - 1, max(0, int(a.t / BIN_S)))
            (ok if 200 <= a.status < 300 else rejected if a.status in (429, 403) else other)[i] += 1
        x = [i * BIN_S for i in range(bins)]
        ax.bar(x, ok, width=BIN_S, align="edge", color="#4c72b0", label="2xx")
        ax.bar(x, rejected, width=BIN_S, align="edge", bottom=ok, color="#dd8452", label="429")
        ax.bar(x, other, width=BIN_S, align="edge", bottom=[o + r for o, r in zip(ok, rejected, strict=True)],
               color="#c44e52", label="error")
        top: float = max(o + r + e for o, r, e in zip(ok, rejected, other, strict=True))
        if binding:
            share = binding.limit * BIN_S / binding.window_s
            ax.axhline(share, color="black", ls="--", lw=1,
                       label=f"quota {binding.limit}/{binding.window_s:g} s = {share:g} per {BIN_S:g} s")
            top = max(top, share)
        ax.set_ylim(0, max(1, top) * 1.15)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="upper right", ncols=4)
    axes[-1, 0].set_xlabel("server time since run start (s)")
    fig.suptitle(f"Server arrivals per {int(BIN_S * 1000)} ms", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
