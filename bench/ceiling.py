"""The harness's own ceiling, measured at the start of a real run, and a warning when a scenario asks too much.

Before the first strategy, the harness opens its connections (one request each), then sends as fast as
it can — ``concurrency`` requests in flight, closed-loop, to the mock with no quota and no latency —
for at most ``budget_s`` (0.5 s) or ``requests`` (1 000) requests, whichever ends first. Successes ÷
elapsed is the **ceiling**: the most requests per second this client and this server reach together
on this machine, now. A scenario that asks for more than half of it (:data:`HEADROOM`) leaves the
harness too little room to keep its schedule; results.json (``meta.ceiling``) and the report then say so.

What a scenario asks for (:func:`requested_rate`): its release rate when jobs are released open-loop
(``release = "rate"``), else the declared quota's sustained rate (what a compliant strategy paces
at); nothing for a batch without a quota.

>>> print(warning(ceiling_rps=3000.0, requested_rps=2000.0))
the scenario asks for 2000/s, more than 50% of the harness ceiling of 3000/s measured at the start: its ...
>>> warning(ceiling_rps=3000.0, requested_rps=1500.0) is None
True
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench.scenarios import Scenario
from bench.transport import Server
from mock_server.config import ServerConfig

__all__ = ["HEADROOM", "Calibration", "measure", "requested_rate", "warning"]

#: A scenario may ask for at most this share of the measured ceiling before the run is warned about.
HEADROOM = 0.5
PATH = "/v1/items"


def requested_rate(scenario: Scenario) -> float | None:
    """Requests per second the scenario asks of the harness (see the module docstring); ``None`` if unbounded."""
    w = scenario.workload
    if w.release == "rate" and w.rate:
        return float(w.rate)
    rate = scenario.declared.rate
    return None if math.isinf(rate) else rate


def warning(ceiling_rps: float, requested_rps: float | None, headroom: float = HEADROOM) -> str | None:
    """The warning for a scenario asking more than ``headroom`` × the ceiling, else ``None``."""
    if requested_rps is None or requested_rps <= headroom * ceiling_rps:
        return None
    return (f"the scenario asks for {requested_rps:g}/s, more than {headroom:.0%} of the harness ceiling of "
            f"{ceiling_rps:.0f}/s measured at the start: its figures may be the harness's")


@dataclass(frozen=True)
class Calibration:
    requests: int  # answered (2xx) during the calibration
    elapsed_s: float
    concurrency: int
    ceiling_rps: float | None  # None when no time elapsed (in-process, virtual time): nothing measurable
    requested_rps: float | None
    warning: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def measure(server: Server, scenario: Scenario, *, requests: int = 1000, concurrency: int = 50,
                  budget_s: float = 0.5) -> Calibration:
    """Closed-loop burst against a fresh, unlimited, zero-latency mock; the run's own reset comes after it.

    It never aborts the benchmark: if the warm-up does not finish within ``budget_s`` (a slow or loaded
    machine), or the burst does not end within ten budgets, or a request fails, the ceiling is withheld
    (``None``) and the warning says it could not be measured.
    """
    await server.reset(ServerConfig())
    try:
        return await _measure(server, scenario, requests, concurrency, budget_s)
    except (TimeoutError, httpx.HTTPError) as e:
        why = "timed out" if isinstance(e, TimeoutError) else f"a request failed: {e!r}"
        return Calibration(0, 0.0, concurrency, None, requested_rate(scenario),
                           f"the harness ceiling could not be measured ({why}; budget {budget_s:g} s): "
                           "nothing says whether the harness can keep up with this scenario")


async def _measure(server: Server, scenario: Scenario, requests: int, concurrency: int,
                   budget_s: float) -> Calibration:
    loop = asyncio.get_running_loop()
    done = 0
    issued = 0
    async with server.client() as client:

        async def get(n: int) -> bool:
            r = await client.get(PATH, headers={"x-request-id": f"calibration.{n}"})
            return r.is_success

        # Warm-up: one request per worker opens the connections, whose set-up a steady run does not pay.
        await asyncio.wait_for(asyncio.gather(*(get(-n) for n in range(1, concurrency + 1))), budget_s)
        start = loop.time()
        deadline = start + budget_s

        async def worker() -> None:
            nonlocal done, issued
            while issued < requests and loop.time() < deadline:
                issued += 1
                if await get(issued):
                    done += 1

        # Workers stop issuing at the deadline; one stuck request must not hold the benchmark for ever.
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 10 * budget_s)
        elapsed = loop.time() - start
    asked = requested_rate(scenario)
    if elapsed <= 0:
        return Calibration(done, 0.0, concurrency, None, asked, None)
    ceiling = done / elapsed
    return Calibration(done, round(elapsed, 6), concurrency, round(ceiling, 1), asked, warning(ceiling, asked))
