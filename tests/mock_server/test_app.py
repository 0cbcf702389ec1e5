import asyncio
from pathlib import Path

import httpx
import pytest

from bench import clock as vclock
from mock_server.app import create_app
from mock_server.config import ServerConfig
from mock_server.log import from_json
from mock_server.ticks import NS_PER_S as S
from tests.mock_server.apptools import EPOCH, JSON, FakeClock, at_times, call, client, config


def codes(rs: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in rs]


def test_429_headers_and_log() -> None:
    clock = FakeClock()
    app = create_app(config(quota=[{"limit": 2, "window_s": 5.0}]), clock=clock)

    async def scenario(c: httpx.AsyncClient) -> tuple[list[httpx.Response], dict]:  # type: ignore[type-arg]
        out = []
        for i, t in enumerate([100.0, 101.0, 102.5]):
            clock.now = t
            out.append(await c.get("/v1/x", headers={"x-request-id": f"r{i}"}))
        return out, (await c.get("/__admin/log")).json()

    (r1, r2, r3), log = call(app, scenario)
    assert codes([r1, r2, r3]) == [200, 200, 429]
    assert r1.headers["x-ratelimit-remaining"] == "1"
    assert r2.headers["x-ratelimit-remaining"] == "0"
    # Slot frees at 100 + 5 = 105; at 102.5 that is 2.5 s away: Retry-After and reset round up to 3.
    assert r3.headers["retry-after"] == "3"
    assert r3.headers["x-ratelimit-reset"] == "3"
    assert r3.headers["x-ratelimit-limit"] == "2"
    assert r1.json() == {"ok": True} and r3.json() == {"error": "too many requests"}
    # Server times are logged in integer ns, the ticks the policy decided by.
    assert [a[:3] for a in log["arrivals"]] == [["r0", 100 * S, 200], ["r1", 101 * S, 200],
                                                ["r2", 102_500_000_000, 429]]
    assert [a.in_flight for a in from_json(log)] == [1, 1, 1]


def test_reset_replaces_config_and_clears_state() -> None:
    clock = FakeClock()
    app = create_app(ServerConfig(), clock=clock)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        await c.get("/a")
        r = await c.post("/__admin/reset", json={"quota": [{"limit": 1, "window_s": 1.0}]})
        assert r.status_code == 200
        got = [(await c.get("/a")).status_code for _ in range(2)]
        log = (await c.get("/__admin/log")).json()
        assert len(log["arrivals"]) == 2  # the request before the reset is gone
        bad = await c.post("/__admin/reset", json={"quota": [{"limit": 0, "window_s": 1.0}]})
        assert bad.status_code == 400 and "server.quota[0].limit" in bad.json()["error"]
        assert (await c.post("/__admin/reset", content=b"{nope", headers=JSON)).status_code == 400
        # No body: the same config afresh.
        assert (await c.post("/__admin/reset", headers=JSON)).status_code == 200
        assert (await c.get("/a")).status_code == 200
        cfg = (await c.get("/__admin/config")).json()
        assert ServerConfig.from_dict(cfg["config"]) == ServerConfig.from_dict({"quota": [{"limit": 1, "window_s": 1}]})
        return got

    assert call(app, scenario) == [200, 429]


def test_runner_round_trip_through_reset() -> None:
    full = config(
        quota=[
            {"algorithm": "gcra", "limit": 5, "window_s": 1, "burst": 2, "name": "burst"},
            {"algorithm": "fixed-window", "anchor": "first", "limit": 50, "window_s": 60, "scope": "global"},
        ],
        keys={"gold": {"quota": [{"limit": 100, "window_s": 1}]}},
        headers={
            "dialect": "ietf-draft10",
            "retry_after": "http-date",
            "reject_status": 403,
            "problem_json": True,
        },
        latency={"model": "lognormal", "median_ms": 5, "sigma": 0.3, "seed": 7},
        concurrency={"limit": 10, "status": 429, "retry_after_s": 1},
        faults={
            "error_rate": 0.1,
            "outages": [{"start_s": 1, "end_s": 2}],
            "slow": {"rate": 0.1, "delay_s": 2},
            "hang_rate": 0.01,
            "seed": 3,
        },
        dynamics={
            "schedule": [{"at_s": 5, "limit": 2}],
            "neighbour": {"rate": 1, "key": "x"},
            "penalty": True,
            "lockout_s": 3,
        },
        log={"limit": 10},
    )
    app = create_app(ServerConfig(), clock=FakeClock())

    async def scenario(c: httpx.AsyncClient) -> dict:  # type: ignore[type-arg]
        assert (await c.post("/__admin/reset", json=full.to_dict())).status_code == 200
        return (await c.get("/__admin/config")).json()  # type: ignore[no-any-return]

    assert ServerConfig.from_dict(call(app, scenario)["config"]) == full


def test_no_quota_sends_no_rate_limit_headers() -> None:
    r = call(create_app(ServerConfig(), clock=FakeClock()), lambda c: c.get("/"))
    assert r.status_code == 200 and "x-ratelimit-limit" not in r.headers and "retry-after" not in r.headers


def test_unknown_admin_path_is_404_and_methods_are_checked() -> None:
    async def scenario(c: httpx.AsyncClient) -> list[int]:
        return [
            (await c.get("/__admin/nope")).status_code,
            (await c.get("/__admin/reset")).status_code,
            (await c.post("/anything", content=b"x" * 10)).status_code,
        ]

    assert call(create_app(ServerConfig(), clock=FakeClock()), scenario) == [404, 405, 200]


# --- every algorithm end to end, under virtual time --------------------------------------------------


@pytest.mark.parametrize(
    ("quota", "times", "expected"),
    [
        (
            {"algorithm": "sliding-log", "limit": 3, "window_s": 1.0},
            [0.0, 0.2, 0.4, 0.9, 1.0, 1.1, 1.2],
            [200, 200, 200, 429, 200, 429, 200],
        ),
        (
            {"algorithm": "fixed-window", "limit": 3, "window_s": 1.0},
            [0.9, 0.95, 0.99, 1.0, 1.01, 1.05, 1.1],
            [200, 200, 200, 200, 200, 200, 429],
        ),
        (
            {"algorithm": "fixed-window", "anchor": "first", "limit": 2, "window_s": 1.0},
            [0.3, 0.5, 0.9, 1.3, 1.4, 2.2],
            [200, 200, 429, 200, 200, 429],
        ),
        (
            {"algorithm": "sliding-counter", "limit": 4, "window_s": 1.0},
            [0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 1.25, 1.3, 1.5],
            [200, 200, 200, 200, 429, 429, 200, 429, 200],
        ),
        (
            {"algorithm": "gcra", "limit": 2, "window_s": 1.0, "burst": 3},
            [0.0, 0.0, 0.0, 0.0, 0.4, 0.5, 0.5, 1.0],
            [200, 200, 200, 429, 429, 200, 429, 200],
        ),
    ],
)
def test_each_algorithm_through_the_app(quota: dict, times: list[float], expected: list[int]) -> None:  # type: ignore[type-arg]
    # The server starts at virtual 0.0, so clock-aligned windows line up with the offsets.
    assert codes(at_times(config(quota=[quota]), times)) == expected


# --- keys and tiers ----------------------------------------------------------------------------------


def test_each_api_key_has_its_own_counters_and_unkeyed_requests_share_one() -> None:
    clock = FakeClock()
    app = create_app(config(quota=[{"limit": 1, "window_s": 10}], key_header="X-Token"), clock=clock)

    async def scenario(c: httpx.AsyncClient) -> list[int]:
        out = []
        for h in [{"x-token": "a"}, {"x-token": "a"}, {"x-token": "b"}, {}, {}, {"x-api-key": "c"}]:
            out.append((await c.get("/", headers=h)).status_code)
        log = from_json((await c.get("/__admin/log")).json())
        assert [a.key for a in log] == ["a", "a", "b", "", "", ""]
        return out

    # x-api-key is not the configured header here: that request is an unkeyed one.
    assert call(app, scenario) == [200, 429, 200, 200, 429, 429]


def test_named_keys_global_tiers_and_the_binding_tier_reported() -> None:
    cfg = config(
        quota=[
            {"limit": 2, "window_s": 10, "name": "per-key"},
            {"limit": 4, "window_s": 60, "scope": "global", "name": "org"},
        ],
        keys={"gold": {"quota": [{"limit": 10, "window_s": 10, "name": "gold"}]}},
    )
    app = create_app(cfg, clock=FakeClock())

    async def scenario(c: httpx.AsyncClient) -> list[tuple[int, str, str]]:
        out = []
        for k in ["a", "a", "a", "gold", "b", "b"]:
            r = await c.get("/", headers={"x-api-key": k})
            out.append((r.status_code, r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]))
        return out

    assert call(app, scenario) == [
        (200, "2", "1"),  # a: per-key 1 left, org 3 left -> per-key reported
        (200, "2", "0"),
        (429, "2", "0"),  # a's own tier is full
        (200, "4", "1"),  # gold: its own 10/10 s has 9 left, org has 1 left -> org reported
        (200, "4", "0"),  # b: org's last slot
        (429, "4", "0"),  # b has per-key room, the shared org tier is full
    ]


# --- latency, concurrency, faults --------------------------------------------------------------------


def test_fixed_latency_under_virtual_time() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        app = create_app(config(latency_ms=250), clock=vclock.loop_ns(loop))
        async with client(app) as c:
            t0 = loop.time()
            await c.get("/")
            return [loop.time() - t0]

    assert vclock.run(main()) == [0.25]


def test_lognormal_latency_is_seeded_and_restarts_at_reset() -> None:
    cfg = {"latency": {"model": "lognormal", "median_ms": 20, "sigma": 0.5, "seed": 42}}

    async def main() -> tuple[list[float], list[float]]:
        loop = asyncio.get_running_loop()
        app = create_app(config(**cfg), clock=vclock.loop_ns(loop))
        runs = []
        async with client(app) as c:
            for _ in range(2):
                await c.post("/__admin/reset", headers=JSON)
                ds = []
                for _ in range(5):
                    t0 = loop.time()
                    await c.get("/")
                    ds.append(round(loop.time() - t0, 6))
                runs.append(ds)
        return runs[0], runs[1]

    a, b = vclock.run(main())
    assert a == b and len(set(a)) == 5 and all(0.002 < d < 0.2 for d in a)


def test_concurrency_cap_answers_the_excess_at_once() -> None:
    async def main() -> tuple[list[int], list[int], float]:
        loop = asyncio.get_running_loop()
        app = create_app(
            config(latency_ms=100, concurrency={"limit": 2, "status": 429, "retry_after_s": 1}),
            clock=vclock.loop_ns(loop),
        )
        async with client(app) as c:
            t0 = loop.time()
            rs = await asyncio.gather(*(c.get("/", headers={"x-request-id": str(i)}) for i in range(4)))
            log = from_json((await c.get("/__admin/log")).json())
            return codes(list(rs)), [a.in_flight for a in log], loop.time() - t0

    got, in_flight, elapsed = vclock.run(main())
    # The third is turned away at once, before the fourth arrives: both see 2 others in flight.
    assert got == [200, 200, 429, 429] and in_flight == [1, 2, 3, 3] and elapsed == 0.1


def test_outage_window_answers_503_and_does_not_count() -> None:
    cfg = config(quota=[{"limit": 1, "window_s": 100}], faults={"outages": [{"start_s": 1.0, "end_s": 2.0}]})
    rs = at_times(cfg, [1.0, 1.5, 1.999, 2.0, 2.5])
    assert codes(rs) == [503, 503, 503, 200, 429]
    assert "x-ratelimit-limit" not in rs[0].headers


def test_error_rate_is_seeded_and_errors_keep_the_quota_headers() -> None:
    cfg = config(quota=[{"limit": 100, "window_s": 1}], faults={"error_rate": 0.5, "error_statuses": [502], "seed": 3})
    rs = at_times(cfg, [0.0] * 6)
    assert codes(rs) == [502, 200, 502, 200, 200, 502]
    assert rs[0].headers["x-ratelimit-remaining"] == "99"  # it got past the quota, then failed


def test_slow_responses_take_longer() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        app = create_app(config(latency_ms=10, faults={"slow": {"rate": 1.0, "delay_s": 5}}),
                         clock=vclock.loop_ns(loop))
        async with client(app) as c:
            t0 = loop.time()
            await c.get("/")
            return [round(loop.time() - t0, 6)]

    assert vclock.run(main()) == [5.01]


def test_hanging_response_holds_until_the_client_times_out() -> None:
    async def main() -> tuple[str, float, int, int]:
        loop = asyncio.get_running_loop()
        app = create_app(config(faults={"hang_rate": 1.0, "hang_s": 30}), clock=vclock.loop_ns(loop))
        async with client(app) as c:
            t0 = loop.time()
            try:
                # ASGITransport ignores httpx timeouts; a client-side deadline is what cancels the call.
                async with asyncio.timeout(2.0):
                    await c.get("/")
                outcome = "answered"
            except TimeoutError:
                outcome = "timeout"
            waited = loop.time() - t0
            assert app.run.in_flight == 0
            # Without a client timeout the server gives up after hang_s and answers 504.
            r = await c.get("/")
            return outcome, waited, r.status_code, round(loop.time() - t0)

    assert vclock.run(main()) == ("timeout", 2.0, 504, 32)


# --- dynamics ----------------------------------------------------------------------------------------


def test_schedule_changes_the_limit_mid_run() -> None:
    cfg = config(
        quota=[{"algorithm": "fixed-window", "limit": 2, "window_s": 1.0}],
        dynamics={"schedule": [{"at_s": 1.0, "limit": 1}, {"at_s": 2.0, "limit": 3}]},
    )
    rs = at_times(cfg, [0.0, 0.0, 0.0, 1.0, 1.5, 2.0, 2.0, 2.0, 2.0])
    assert codes(rs) == [200, 200, 429, 200, 429, 200, 200, 200, 429]
    assert [r.headers["x-ratelimit-limit"] for r in rs] == ["2", "2", "2", "1", "1", "3", "3", "3", "3"]


def test_noisy_neighbour_consumes_the_shared_quota() -> None:
    # Limit 4 per 1 s sliding; the neighbour sends 2 per second on the same (default) key from t=0:
    # at 0.0 and 0.5, so by 0.6 only 2 slots are left for us.
    cfg = config(quota=[{"limit": 4, "window_s": 1.0}], dynamics={"neighbour": {"rate": 2}})

    async def main() -> tuple[list[int], dict]:  # type: ignore[type-arg]
        loop = asyncio.get_running_loop()
        app = create_app(cfg, clock=vclock.loop_ns(loop))
        async with client(app) as c:
            await asyncio.sleep(0.6)
            got = [(await c.get("/")).status_code for _ in range(3)]
            return got, (await c.get("/__admin/stats")).json()

    got, stats = vclock.run(main())
    assert got == [200, 200, 429]
    assert stats["neighbour"] == {"sent": 2, "accepted": 2}
    assert stats["statuses"] == {"200": 2, "429": 1}


def test_neighbour_on_another_key_only_touches_global_tiers() -> None:
    cfg = config(
        quota=[{"limit": 2, "window_s": 1.0}, {"limit": 3, "window_s": 1.0, "scope": "global"}],
        dynamics={"neighbour": {"rate": 10, "key": "other", "end_s": 0.15}},
    )
    # The neighbour sends at 0.0 and 0.1 (key "other"): the global tier has 1 slot left for us.
    assert codes(at_times(cfg, [0.2, 0.2])) == [200, 429]


def test_penalty_counts_rejections() -> None:
    times = [0.0, 0.5, 0.9, 1.0, 1.5, 1.6]
    plain = config(quota=[{"limit": 1, "window_s": 1.0}])
    assert codes(at_times(plain, times)) == [200, 429, 429, 200, 429, 429]
    # With a penalty each rejection is counted: 0.9 keeps the window full until 1.9.
    penal = config(quota=[{"limit": 1, "window_s": 1.0}], dynamics={"penalty": True})
    assert codes(at_times(penal, times)) == [200, 429, 429, 429, 429, 429]


def test_lockout_is_extended_by_each_rejection() -> None:
    cfg = config(quota=[{"limit": 1, "window_s": 1.0}], dynamics={"lockout_s": 2.0})
    rs = at_times(cfg, [0.0, 0.5, 1.0, 2.4, 2.5, 4.5])
    # 0.5 rejected -> locked until 2.5; 1.0 (slot free, but locked) -> until 3.0; 2.4 -> until 4.4.
    assert codes(rs) == [200, 429, 429, 429, 429, 200]
    assert [r.headers.get("retry-after") for r in rs] == [None, "2", "2", "2", "2", None]


# --- admin -------------------------------------------------------------------------------------------


def test_log_to_file_streams_every_arrival(tmp_path: Path) -> None:
    path = tmp_path / "arrivals.csv"
    clock = FakeClock(0.0)
    app = create_app(config(log={"file": "arrivals.csv"}), clock=clock, log_dir=tmp_path)

    async def scenario(c: httpx.AsyncClient) -> list[float]:
        for i in range(5000):  # more than one batch
            clock.now = i / 1000
            await c.get("/", headers={"x-request-id": f"r{i}"})
        log = from_json((await c.get("/__admin/log")).json())
        assert [a.request_id for a in log][:2] == ["r0", "r1"] and log[-1].status == 200
        return [a.t for a in log]

    try:
        ts = call(app, scenario)
    finally:
        app.close()
    assert ts == [i / 1000 for i in range(5000)]
    assert path.read_text().splitlines()[0] == "request_id,t_ns,status,key,in_flight,cost"


def test_bounded_memory_log_and_log_off() -> None:
    app = create_app(config(log={"limit": 3}), clock=FakeClock())

    async def scenario(c: httpx.AsyncClient) -> tuple[int, int, int]:
        for i in range(10):
            await c.get("/", headers={"x-request-id": str(i)})
        log = (await c.get("/__admin/log")).json()
        await c.post("/__admin/reset", json={"log": {"enabled": False}})
        await c.get("/")
        off = (await c.get("/__admin/log")).json()
        return len(log["arrivals"]), log["dropped"], len(off["arrivals"])

    assert call(app, scenario) == (3, 7, 0)


def test_epoch_and_http_date_follow_the_wall_clock_from_reset() -> None:
    cfg = config(quota=[{"limit": 1, "window_s": 10}], headers={"dialect": "github", "retry_after": "http-date"})
    rs = at_times(cfg, [0.0, 4.5], wall=EPOCH)
    assert rs[0].headers["x-ratelimit-reset"] == str(int(EPOCH) + 10)
    assert rs[1].headers["x-ratelimit-reset"] == str(int(EPOCH) + 10)
    assert rs[1].headers["retry-after"] == "Tue, 14 Nov 2023 22:13:30 GMT"  # EPOCH + 10


def test_clock_unreadable_at_creation_starts_the_state_at_first_use() -> None:
    def not_yet() -> int:
        return vclock.loop_ns(asyncio.get_running_loop())()  # raises outside a running loop

    app = create_app(config(quota=[{"limit": 1, "window_s": 1}]), clock=not_yet)

    async def main() -> list[int]:
        async with client(app) as c:
            return [(await c.get("/")).status_code for _ in range(2)]

    assert vclock.run(main(), start=50.0) == [200, 429]
    assert app.run.start == 50 * S


def test_requests_no_tier_applies_to_get_no_limit_headers() -> None:
    app = create_app(config(keys={"gold": {"quota": [{"limit": 1, "window_s": 1}]}}), clock=FakeClock())

    async def scenario(c: httpx.AsyncClient) -> list[tuple[int, str | None]]:
        out = []
        for h in [{}, {}, {"x-api-key": "gold"}, {"x-api-key": "gold"}]:
            r = await c.get("/", headers=h)
            out.append((r.status_code, r.headers.get("x-ratelimit-limit")))
        return out

    assert call(app, scenario) == [(200, None), (200, None), (200, "1"), (429, "1")]
