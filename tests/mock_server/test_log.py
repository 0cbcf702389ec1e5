"""The arrival log's bounds: records, bytes, and the length of client-chosen fields."""

from __future__ import annotations

from pathlib import Path

from mock_server.log import MAX_FIELD, RECORD_BYTES, ArrivalLog, FileLog, NullLog


def test_memory_log_is_bounded_in_bytes_not_only_records() -> None:
    # 1 MB request ids used to be kept whole: a million records of them would be a terabyte.
    log = ArrivalLog(limit=1_000_000, max_bytes=10 * (RECORD_BYTES + 2 * MAX_FIELD))
    for i in range(100):
        log.add("x" * 1_000_000 + str(i), i * 1_000_000_000, 200, "k" * 1_000_000, 1)
    kept = list(log)
    assert all(len(a.request_id) == MAX_FIELD and len(a.key) == MAX_FIELD for a in kept)
    assert len(kept) == 10 and log.dropped == 90 and log.total == 100
    assert log.bytes == 10 * (RECORD_BYTES + 2 * MAX_FIELD)
    assert [a.t for a in kept] == [float(i) for i in range(90, 100)]  # the newest are kept


def test_byte_accounting_follows_drops_by_record_limit() -> None:
    log = ArrivalLog(limit=3)
    for rid in ("a", "bb", "ccc", "dddd", "eeeee"):
        log.add(rid, 0, 200, "", 1)
    assert [a.request_id for a in log] == ["ccc", "dddd", "eeeee"]
    assert log.bytes == 3 * RECORD_BYTES + 3 + 4 + 5 and log.dropped == 2


def test_file_log_clips_fields_too(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    log = FileLog(path)
    log.add("r" * 5000, 1_000_000_000, 200, "k" * 5000, 1)
    log.close()
    row = path.read_text().splitlines()[1].split(",")
    assert row[0] == "r" * MAX_FIELD and row[3] == "k" * MAX_FIELD


def test_a_page_past_the_end_is_empty_and_next_is_the_total(tmp_path: Path) -> None:
    # since=999 of 7 records used to answer next=999: a client following next skipped records 7 to 998.
    for log in (ArrivalLog(), FileLog(tmp_path / "a.csv")):
        for i in range(7):
            log.add(str(i), i, 200, "", 1)
        p = log.page(999, 10)
        assert (p["arrivals"], p["since"], p["next"], p["total"]) == ([], 7, 7, 7)
        log.add("7", 7, 200, "", 1)  # a later arrival is on the page ``next`` names
        assert [r[0] for r in log.page(p["next"], 10)["arrivals"]] == ["7"]
        assert log.page(5, 10)["next"] == 8  # a page reaching the end stops at the total
        log.close()
    p = NullLog().page(3, 10)
    assert (p["since"], p["next"], p["total"]) == (0, 0, 0)
