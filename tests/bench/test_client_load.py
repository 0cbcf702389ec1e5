import asyncio
import time
from collections import Counter

import pytest

from bench import clock, params, scenarios
from bench.client_load import ClientLoad, Stall
from bench.runner import run_virtual
from mock_server.config import ConfigError
from strategies import registry


def _first_sends(name: str, spec: params.Spec | None = None) -> list[float]:
    sc = scenarios.load("stall")
    (cls,) = params.expand([name], spec or {})
    r = run_virtual(cls, sc)
    assert r.status == "ok"
    return sorted(round(a.sent_s, 6) for a in r.attempts if a.attempt == 1)


def test_stall_asynciolimiter_catches_up_in_a_clump_of_at_most_max_burst() -> None:
    """Issue 11: after a 1 s stall of the loop (at 1.05 s), Limiter(10) releases its missed slots at once,
    capped at max_burst = 5, then resumes its schedule; a correct bucket resumes one at a time."""
    sent = _first_sends("asynciolimiter")
    after = Counter(t for t in sent if t >= 2.05)
    assert sent[:11] == [round(0.1 * i, 6) for i in range(11)]  # on schedule until the stall
    assert after[2.05] == 5 and max(after.values()) == 5
    assert sorted(after)[1:4] == [2.1, 2.2, 2.3]  # back on the 0.1 s grid
    assert max(Counter(_first_sends("asynciolimiter", params.parse_cli(["asynciolimiter.max_burst=2"]))
                       ).values()) == 2
    tb = _first_sends("token-bucket")
    assert max(Counter(tb).values()) == 1 and tb[11:13] == [2.05, 2.15]


def test_stall_run_reports_the_loop_lag() -> None:
    r = run_virtual(registry.resolve("token-bucket"), scenarios.load("stall"))
    # The ticker (every 10 ms) due at 1.05 s ran after the 1 s stall; every other wake-up on time.
    assert r.metrics.loop_lag_max_ms == pytest.approx(1000.0)
    assert r.metrics.loop_lag_p50_ms == 0.0


def test_busy_duty_cycle_in_virtual_time() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        applied = ClientLoad(busy_duty=0.25, busy_period_s=0.1).start(loop, loop.time())
        out = []
        for _ in range(4):
            await asyncio.sleep(0.03)
            out.append(round(loop.time(), 6))
        applied.stop()
        return out

    # Slices of 25 ms at 0, 0.1, ...: the sleeps asked at 0 end on time (the first slice is over at 0.025),
    # 0.03, 0.06, 0.09; the slice from 0.1 to 0.125 holds the wake-up due at 0.12 until 0.125.
    assert clock.run(main()) == [0.03, 0.06, 0.09, 0.125]


def test_a_stall_blocks_a_real_loop() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        applied = ClientLoad((Stall(0.0, 0.05),)).start(loop, t0)
        await asyncio.sleep(0.01)
        applied.stop()
        return loop.time() - t0

    w0 = time.monotonic()
    assert asyncio.run(main()) >= 0.05 and time.monotonic() - w0 >= 0.05


@pytest.mark.parametrize(("table", "message"), [
    ({"stalls": [{"at_s": 1}]}, "load.stalls[0].for_s: required"),
    ({"stalls": [{"at_s": 1, "for_s": 0}]}, "load.stalls[0].for_s: must be a number > 0"),
    ({"busy_duty": 1.0}, "load.busy_duty: must be < 1"),
    ({"busy": 0.5}, "load.busy: unknown key"),
])
def test_bad_load_tables_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ClientLoad.from_table(table)
