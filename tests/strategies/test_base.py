"""The seam's give-up (deadlines, cancellation) and parameters."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bench import clock, scenarios
from bench.runner import run_virtual
from strategies.base import GiveUp, Job, JobDropped, Param, for_each
from strategies.registry import resolve


def _jobs(n: int, after: float, kind: str, seen: Counter[str]) -> AsyncIterator[Job]:
    async def gen() -> AsyncIterator[Job]:
        for i in range(n):
            yield Job(i, 0.0, 1, GiveUp(asyncio.get_running_loop().time() + after, kind, seen.update_one))
    return gen()


class _Seen(Counter[str]):
    def update_one(self, kind: str) -> None:
        self[kind] += 1


def test_for_each_cancels_a_waiting_job_at_its_deadline_but_not_one_already_sending() -> None:
    seen = _Seen()
    sent: list[tuple[int, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        lock = asyncio.Lock()  # one at a time, each send takes 0.4 s

        async def send(job: Job) -> httpx.Response:
            assert job.give_up is not None
            if not job.give_up.sending(loop.time()):
                raise JobDropped("gave up")
            sent.append((job.id, loop.time()))
            await asyncio.sleep(0.4)  # past the deadline while sending: must not be cancelled
            return httpx.Response(200)

        async def one(job: Job) -> None:
            async with lock:
                await send(job)

        await for_each(_jobs(3, 0.5, "deadline", seen), one)

    clock.run(main())
    # Job 0 sends at 0 (done 0.4), job 1 at 0.4 (still sending at its 0.5 deadline: kept), job 2 gave up at 0.5.
    assert sent == [(0, 0.0), (1, 0.4)] and seen == {"deadline": 1}


def test_send_drops_a_job_past_its_give_up_when_no_scope_cancelled_it() -> None:
    seen = _Seen()
    g = GiveUp(1.0, "cancel", seen.update_one)
    assert not g.sending(1.0) and g.gave_up and seen == {"cancel": 1}
    assert not g.sending(2.0) and seen == {"cancel": 1}  # counted once, however often it is retried
    h = GiveUp(1.0, "deadline", seen.update_one)
    assert h.sending(0.9) and h.sent


def _cancel_scenario(tmp_path: Path) -> scenarios.Scenario:
    p = tmp_path / "cancel.toml"
    p.write_text("""
[server]
latency_ms = 10
[[server.quota]]
limit = 10
window_s = 1.0
[workload]
jobs = 40
cancel_fraction = 0.5
cancel_after_s = 0.55
[client]
concurrency = 40
[virtual]
profile = "none"
""")
    return scenarios.load(str(p))


def test_cancelled_waiters_cost_a_correct_bucket_no_slot(tmp_path: Path) -> None:
    sc = _cancel_scenario(tmp_path)
    chosen = sum(1 for g in sc.workload.iter_give_ups() if g is not None)
    r = run_virtual(resolve("token-bucket"), sc)
    sends = sorted(round(a.sent_s, 6) for a in r.attempts)
    # 6 sent by 0.5 s (0, 0.1, ... 0.5); of the 34 then waiting, the chosen ones (not among the first 6)
    # are cancelled at 0.55; the others go on at 0.1 s each from 0.6, with no gap where a cancelled one was.
    first6 = sum(1 for i, g in enumerate(sc.workload.iter_give_ups()) if g is not None and i < 6)
    cancelled = chosen - first6
    assert r.metrics.jobs_cancelled == cancelled and r.metrics.jobs_dropped == 0
    assert len(sends) == 40 - cancelled
    assert sends == [round(0.1 * i, 6) for i in range(len(sends))]


def test_a_strategy_outside_for_each_meets_the_give_up_at_send(tmp_path: Path) -> None:
    # worker-pool does not run jobs through for_each: a cancelled job is dropped when its turn comes,
    # after it took its place in the pool (documented in docs/metrics.md).
    sc = _cancel_scenario(tmp_path)
    r = run_virtual(resolve("worker-pool"), replace(sc, workload=replace(sc.workload, jobs=20)))
    assert r.metrics.jobs_cancelled > 0
    assert r.metrics.attempts == 20 - r.metrics.jobs_cancelled


def test_param_parse_types() -> None:
    assert Param("b", bool, False, "").parse("true") is True
    assert Param("s", str, "x", "").parse("y") == "y"
    with pytest.raises(ValueError, match="n: must be a whole number, got True"):
        Param("n", int, 1, "").parse(True)
    with pytest.raises(ValueError, match="f: must be a finite number"):
        Param("f", float, 1.0, "").parse("inf")


def test_jobs_past_their_deadline_are_dropped_and_counted(tmp_path: Path) -> None:
    sc = _cancel_scenario(tmp_path)
    sc = replace(sc, workload=replace(sc.workload, jobs=30, cancel_fraction=0.0, deadline_s=1.05))
    r = run_virtual(resolve("token-bucket"), sc)
    # One send per 0.1 s from 0: 0.0 ... 1.0 go (11), the 19 still waiting at 1.05 s are dropped.
    assert sorted(round(a.sent_s, 6) for a in r.attempts) == [round(0.1 * i, 6) for i in range(11)]
    assert (r.metrics.jobs_dropped, r.metrics.jobs_cancelled, r.metrics.succeeded) == (19, 0, 11)
    assert r.metrics.efficiency is None and r.status == "ok"
