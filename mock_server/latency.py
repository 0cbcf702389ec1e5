"""The service-time model: how long the mock takes to answer, drawn per request.

Seeded and restarted at each reset, so the same run sees the same sequence of draws (in arrival
order); ``fixed`` draws nothing.

>>> from mock_server.config import LatencyConfig
>>> draw = sampler(LatencyConfig("uniform", low_ms=10, high_ms=20, seed=1))
>>> [round(draw() * 1000, 3) for _ in range(3)]
[11.344, 18.474, 17.638]
>>> sampler(LatencyConfig("fixed", ms=5))()
0.005
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from mock_server.config import LatencyConfig


def sampler(config: LatencyConfig) -> Callable[[], float]:
    """A function returning the next service time, in seconds."""
    rng = random.Random(config.seed)
    if config.model == "uniform":
        lo, hi = config.low_ms / 1000, config.high_ms / 1000
        return lambda: rng.uniform(lo, hi)
    if config.model == "lognormal":
        mu, sigma = math.log(config.median_ms / 1000), config.sigma
        return lambda: rng.lognormvariate(mu, sigma)
    fixed = config.ms / 1000
    return lambda: fixed
