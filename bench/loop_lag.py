"""Event-loop lag: how late a ticker's wake-ups run on the strategy's loop during a run.

A limiter that blocks the loop (a synchronous acquire, SQLite on the loop's thread) or a client load
(:mod:`bench.client_load`) delays every callback on the loop, the limiter's own timers included; the
send schedule alone does not show it. The ticker asks to wake every ``period_s`` on a fixed grid from run
start (``t0 + k * period_s``) and records, at each wake-up, how late it is (``loop.time()`` minus the
grid instant). A wake-up that a blocked loop delayed past later grid instants counts once, and the
ticker resumes at the next grid instant still ahead, so a 1 s stall gives one sample of about 1 s, not
a hundred. Samples are seconds (packed, 8 bytes each); :func:`bench.metrics.loop_lag_ms` summarises
them as p50/p99/max.

Always on in real runs. In virtual runs only when the scenario has a ``[load]`` table: each wake-up of
a virtual loop with a timer model draws a lateness from its seeded model, so a ticker would change every
later draw (and every seeded result) of scenarios that never asked for it.

>>> from bench import clock
>>> async def main() -> list[float]:
...     loop = asyncio.get_running_loop()
...     ticker = Ticker(loop, loop.time(), 0.1)
...     await asyncio.sleep(0.25)
...     loop.advance(0.3)          # the loop is blocked for 0.3 s at t = 0.25
...     await asyncio.sleep(0.2)
...     return ticker.stop()
>>> [round(x, 6) for x in clock.run(main())]  # 0, 0.1, 0.2 on time; 0.3 ran at 0.55; 0.6, 0.7
[0.0, 0.0, 0.0, 0.25, 0.0, 0.0]
"""

from __future__ import annotations

import asyncio
from array import array

__all__ = ["Ticker"]


class Ticker:
    """Wakes every ``period_s`` from ``t0`` (loop time) and records each wake-up's lateness, in seconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop, t0: float, period_s: float) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s!r}")
        self._loop, self._t0, self._period = loop, t0, period_s
        self._k = 0
        self.samples = array("d")
        self._handle: asyncio.TimerHandle | None = loop.call_at(t0, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        due = self._t0 + self._k * self._period
        self.samples.append(max(0.0, now - due))
        # The next grid instant still ahead of now: lateness is counted once per blocked stretch.
        self._k = max(self._k + 1, int((now - self._t0) // self._period) + 1)
        self._handle = self._loop.call_at(self._t0 + self._k * self._period, self._tick)

    def stop(self) -> list[float]:
        """Stop ticking; the samples so far."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        return list(self.samples)
