import asyncio

import pytest

from bench import clock
from bench.loop_lag import Ticker


def test_lateness_is_counted_once_per_blocked_stretch() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        ticker = Ticker(loop, loop.time(), 0.01)
        await asyncio.sleep(0.015)
        loop.advance(0.1)  # blocked from 0.015 to 0.115: the wake-up due at 0.02 runs at 0.115
        await asyncio.sleep(0.01)  # until 0.125: wake-ups at 0.12 (on time)
        return ticker.stop()

    lags = [round(x, 6) for x in clock.run(main())]
    assert lags == [0.0, 0.0, 0.095, 0.0]


def test_period_must_be_positive() -> None:
    async def main() -> None:
        Ticker(asyncio.get_running_loop(), 0.0, 0.0)

    with pytest.raises(ValueError, match="period_s must be > 0"):
        clock.run(main())
