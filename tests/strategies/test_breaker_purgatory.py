"""circuit-breaker-purgatory: the strategy's timeline against the mock in outage, and purgatory 3's clock."""

from __future__ import annotations

import asyncio

import pytest
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from bench import clock
from strategies.breaker_purgatory import PurgatoryBreaker
from strategies.registry import resolve


def test_registered_under_its_name() -> None:
    assert resolve("circuit-breaker-purgatory") is PurgatoryBreaker


def test_finding_its_cooldown_reads_time_time_so_virtual_time_moves_it_strictly_after_the_ttl() -> None:
    async def main() -> list[str]:
        factory = AsyncCircuitBreakerFactory(default_threshold=1, default_ttl=10)
        breaker = await factory.get_breaker("api")
        with pytest.raises(RuntimeError):
            async with breaker:
                raise RuntimeError("down")
        seen: list[str] = [breaker.context.state]
        await asyncio.sleep(10)  # exactly the ttl: purgatory wants time.time() > opened_at + ttl
        try:
            async with breaker:
                pass
        except OpenedState:
            seen.append("refused at +10 s")
        await asyncio.sleep(1e-6)  # one virtual tick later
        async with breaker:
            pass
        seen.append(breaker.context.state)
        return seen

    assert clock.run(main()) == ["opened", "refused at +10 s", "closed"]
