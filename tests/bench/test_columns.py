"""Records as columns: the same records back, exact ids and times, and the join the runner does."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bench.columns import NO_NS, ArrivalColumns, AttemptColumns, Tries
from bench.records import Attempt
from bench.runner import join
from bench.transport import _arrivals
from mock_server.app import create_app
from mock_server.config import ServerConfig
from mock_server.log import Arrival
from tests.mock_server.apptools import FakeClock


def test_attempts_round_trip_exactly() -> None:
    recs = [Attempt(7, 2, 0.1, 0.30000000000000004, None, 1e-9, -1),
            Attempt(0, 1, 0.0, 0.0, 0.001, 0.010, 429, 1_000_000),
            Attempt(2**40, 300, -0.0, 5.5, 5.6, 7.0, 0)]
    cols = AttemptColumns.of(recs)
    assert list(cols) == recs and cols[-1] == recs[-1] and cols[0:2] == recs[0:2]
    with pytest.raises(IndexError):
        cols[3]


def test_arrivals_round_trip_with_any_request_id() -> None:
    ids = ["3.1.ab12cd34", "3.1", "03.1", "3.01", "r1", "", "1.2x", "x" * 200, "4.5.ab12cd34", "j3.1.ab12cd34",
           "a.3.1", ".3.1", "j", "j3.", "3..1"]
    recs = [Arrival(rid, i * 7 - 3, 200 + i, "key" if i % 2 else "", i, i + 1) for i, rid in enumerate(ids)]
    cols = ArrivalColumns.of(recs)
    assert list(cols) == recs
    # Only canonical "<job>.<attempt><tag>" ids are a run's own, and only with its tag.
    tag = ("", ".ab12cd34")
    assert [i for i in range(len(ids)) if cols.own(i, tag)] == [0, 8]
    assert cols.own(0, tag) == (3, 1) and cols.own(8, tag) == (4, 5) and cols.own(9, ("j", ".ab12cd34")) == (3, 1)
    assert cols.own(1, ("", "")) == (3, 1) and cols.own(6, ("", "x")) == (1, 2)
    cols.shift(-3)
    assert [a.t_ns for a in cols] == [i * 7 for i in range(len(ids))]


def test_the_join_follows_the_run_s_id_format() -> None:
    # Whatever the prefix the harness writes ids with ("j1.1.<tag>", or "1.1.<tag>"), the join matches them.
    for fmt in ("{}.{}.t", "j{}.{}.t"):
        tries, pending = Tries(), AttemptColumns()
        pending.append(0, tries.next(0), 0.0, 0.0, 0.01, 200)
        log = ArrivalColumns.of([Arrival(fmt.format(0, 1), 5, 200), Arrival("x0.1.t", 6, 200)])
        joined, foreign = join(pending, tries, log, lambda job, attempt, fmt=fmt: fmt.format(job, attempt))
        assert (joined[0].arrival_ns, foreign) == (5, 1)
    with pytest.raises(ValueError, match="not <prefix>"):
        join(pending, tries, log, lambda job, attempt: f"{attempt}-{job}")


def test_join_matches_ids_counts_foreign_and_sorts_by_send() -> None:
    tries, pending = Tries(), AttemptColumns()
    for job, sent in [(1, 0.5), (0, 0.2), (1, 0.1), (0, 0.2)]:  # job 1 tried twice, job 0 twice
        pending.append(job, tries.next(job), 0.0, sent, sent + 0.01, 200)
    log = ArrivalColumns.of([Arrival(rid, t, 200) for rid, t in [
        ("1.1.t", 10), ("0.2.t", 20), ("0.2.u", 30),  # another tag: foreign
        ("9.1.t", 40), ("1.2.t", 50), ("1.2.t", 60)]])  # job 9 never ran: foreign; of two, the last wins
    joined, foreign = join(pending, tries, log, lambda job, attempt: f"{job}.{attempt}.t")
    assert foreign == 2
    assert [(a.job, a.attempt, a.sent_s, a.arrival_ns) for a in joined] == [
        (1, 2, 0.1, 60), (0, 1, 0.2, None), (0, 2, 0.2, 20), (1, 1, 0.5, 10)]
    assert joined[0].arrival_s == 60 / 1e9 and joined.arrival_ns[1] == NO_NS


@pytest.mark.parametrize("page", [1, 2, 3, 1000])
def test_the_log_read_in_pages_is_the_whole_log(page: int) -> None:
    app = create_app(ServerConfig(), clock=FakeClock())
    for i in range(7):
        app.run.log.add(f"{i}.1.t", i, 200, "k" if i == 3 else "", 1, i + 1)

    async def read() -> tuple[list[Arrival], list[Arrival]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1") as c:
            paged = await _arrivals(c, page)
            whole = (await c.get("/__admin/log")).json()
        return list(paged.arrivals), [Arrival(*r) for r in whole["arrivals"]]

    paged, whole = asyncio.run(read())
    assert paged == whole and len(paged) == 7


def test_log_pages_reject_bad_cursors_and_start_after_dropped_records() -> None:
    app = create_app(ServerConfig.from_dict({"log": {"limit": 3}}), clock=FakeClock())
    for i in range(5):
        app.run.log.add(str(i), i, 200, "", 1, 1)

    async def get(query: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1") as c:
            return await c.get("/__admin/log?" + query)

    page = asyncio.run(get("since=0&limit=2")).json()
    assert ([r[0] for r in page["arrivals"]], page["since"], page["next"], page["dropped"]) == (["2", "3"], 2, 4, 2)
    for bad in ("since=-1", "limit=0", "limit=100001", "since=x", "limit=1e3"):
        r = asyncio.run(get(bad))
        assert r.status_code == 400 and bad.split("=")[0] in r.json()["error"]


def test_log_paging_clamps_a_cursor_past_the_end_and_refuses_repeated_parameters() -> None:
    app = create_app(ServerConfig(), clock=FakeClock())
    for i in range(7):
        app.run.log.add(str(i), i, 200, "", 1, 1)

    async def get(query: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1") as c:
            return await c.get("/__admin/log?" + query)

    page = asyncio.run(get("since=999&limit=5")).json()
    assert (page["arrivals"], page["since"], page["next"], page["total"]) == ([], 7, 7, 7)
    for i in range(7, 10):  # arrivals after the empty page: following ``next`` reads them all
        app.run.log.add(str(i), i, 200, "", 1, 1)
    assert [r[0] for r in asyncio.run(get(f"since={page['next']}&limit=5")).json()["arrivals"]] == ["7", "8", "9"]
    repeated = (("limit=2&limit=3", "limit"), ("since=0&since=1", "since"), ("since=1&limit=2&since=1", "since"))
    for query, name in repeated:
        r = asyncio.run(get(query))
        assert r.status_code == 400 and r.json()["error"].startswith(f"{name}: ")


def test_tries_count_far_out_ids_aside() -> None:
    t = Tries()
    assert [t.next(j) for j in (0, 10**12, 0, -1, 10**12)] == [1, 1, 2, 1, 2]
    t.freeze()
    assert sorted(t.slot(j, a) for j, a in [(0, 1), (0, 2), (-1, 1), (10**12, 1), (10**12, 2)]) == [0, 1, 2, 3, 4]
