"""The hash-chained audit trail: sealing, dedupe, and naming each kind of tampering.

Tampering is done the way an intruder with file access would do it: SQL
straight into the SQLite file, behind the store's back.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agent_os.kernel_worker import (
    GENESIS_HASH,
    AuditError,
    AuditEvent,
    AuditRecord,
    AuditSink,
    AuditStoreError,
    ChainedAuditStore,
    SqliteAuditStore,
    chain_hash,
    next_record,
    verify_chain,
)

TABLE = "agentos_audit_chain"


def event(n: int, **changes: object) -> AuditEvent:
    base = AuditEvent(
        event_id=f"ev-{n:04d}",
        ts=1_700_000_000.0 + n / 8,
        agent_id="agent-1",
        action="sql",
        tool=None,
        request_id=f"req-{n}",
        decision="deny" if n % 3 == 0 else "allow",
        signal="SIGKILL" if n % 3 == 0 else None,
        rule="sql-drop" if n % 3 == 0 else None,
        reason="destructive SQL" if n % 3 == 0 else "no rule matched",
        code=None,
        policy="strict",
        policy_hash="ab" * 32,
        kernel_id="kernel-1",
        elapsed_us=12.5 + n,
        args_digest=f"{n:064x}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def chain(n: int) -> list[AuditRecord]:
    out: list[AuditRecord] = []
    for i in range(1, n + 1):
        out.append(next_record(out[-1] if out else None, event(i)))
    return out


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "audit.db"
    with SqliteAuditStore(path) as store:
        store.append_many([event(i) for i in range(1, 11)])
    yield path


def tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            for sql in statements:
                conn.execute(sql)
    finally:
        conn.close()


def reseal(path: Path, seq: int) -> None:
    """Recompute one row's hash, as an intruder who read this module would."""
    with SqliteAuditStore(path, create=False) as store:
        record = next(r for r in store.records() if r.seq == seq)
    digest = chain_hash(record.seq, record.prev_hash, record.event)
    tamper(path, f"UPDATE {TABLE} SET hash = '{digest}' WHERE seq = {seq}")


def problems(path: Path) -> list[tuple[int, str]]:
    with SqliteAuditStore(path, create=False) as store:
        report = verify_chain(store.records())
    assert report.ok == (not report.problems)
    return [(p.seq, p.code) for p in report.problems]


# -- sealing -------------------------------------------------------------------------


def test_records_chain_from_genesis() -> None:
    records = chain(3)
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS_HASH
    assert records[1].prev_hash == records[0].hash
    assert records[0].hash == chain_hash(1, GENESIS_HASH, event(1))
    assert len({r.hash for r in records}) == 3


def test_hash_covers_every_event_field_and_the_position() -> None:
    base = chain_hash(1, GENESIS_HASH, event(1))
    assert chain_hash(2, GENESIS_HASH, event(1)) != base
    assert chain_hash(1, "1" * 64, event(1)) != base
    for name, value in [("decision", "deny"), ("reason", "x"), ("policy_hash", "cd" * 32)]:
        assert chain_hash(1, GENESIS_HASH, event(1, **{name: value})) != base, name


def test_int_and_float_timestamps_hash_alike() -> None:
    # SQLite and PostgreSQL give REAL columns back as floats.
    assert chain_hash(1, GENESIS_HASH, event(1, ts=1_700_000_000)) == chain_hash(
        1, GENESIS_HASH, event(1, ts=1_700_000_000.0)
    )


def test_non_finite_timestamp_is_malformed() -> None:
    with pytest.raises(AuditError) as info:
        chain_hash(1, GENESIS_HASH, event(1, ts=float("nan")))
    assert info.value.code == "malformed_audit"


def test_intact_chain_verifies(db: Path) -> None:
    with SqliteAuditStore(db, create=False) as store:
        report = verify_chain(store.records())
        last = store.last()
    assert report.ok and report.problems == []
    assert report.checked == 10
    assert last is not None and (report.last_seq, report.last_hash) == (10, last.hash)
    assert report.to_dict()["ok"] is True


def test_store_round_trips_every_field(db: Path) -> None:
    with SqliteAuditStore(db) as store:
        records = list(store.records())
    assert [r.event for r in records] == [event(i) for i in range(1, 11)]
    assert records == chain(10)


def test_store_is_a_sink_and_a_chained_store(tmp_path: Path) -> None:
    with SqliteAuditStore(tmp_path / "a.db") as store:
        assert isinstance(store, AuditSink)
        assert isinstance(store, ChainedAuditStore)
        store.record(event(1))
        assert len(store) == 1


# -- dedupe ----------------------------------------------------------------------------


def test_redelivered_event_is_stored_once(tmp_path: Path) -> None:
    with SqliteAuditStore(tmp_path / "a.db") as store:
        first = store.append(event(1))
        again = store.append(event(1))
        batch = store.append_many([event(2), event(2), event(1), event(3)])
        assert again == first
        assert [r.seq for r in batch] == [2, 2, 1, 3]
        assert len(store) == 3
        assert verify_chain(store.records()).ok


def test_failed_batch_appends_nothing(tmp_path: Path) -> None:
    with SqliteAuditStore(tmp_path / "a.db") as store:
        store.append(event(1))
        with pytest.raises(AuditError) as info:
            store.append_many([event(2), event(3, ts=float("inf"))])
        assert info.value.code == "malformed_audit"
        assert len(store) == 1
        assert store.append(event(2)).seq == 2


def test_two_writers_on_one_file_do_not_fork(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    SqliteAuditStore(path).close()

    def write(offset: int) -> None:
        with SqliteAuditStore(path) as store:
            for i in range(offset, offset + 40):
                store.append(event(i))

    threads = [threading.Thread(target=write, args=(k * 1000,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with SqliteAuditStore(path) as store:
        report = verify_chain(store.records())
    assert report.ok, report.problems
    assert report.checked == 80


def test_reader_refuses_a_missing_or_foreign_file(tmp_path: Path) -> None:
    with pytest.raises(AuditStoreError) as info:
        SqliteAuditStore(tmp_path / "none.db", create=False)
    assert info.value.code == "audit_store_missing"
    assert not (tmp_path / "none.db").exists()
    tamper(tmp_path / "other.db", "CREATE TABLE t (x)")
    with pytest.raises(AuditStoreError) as info:
        SqliteAuditStore(tmp_path / "other.db", create=False)
    assert info.value.code == "audit_store_missing"


# -- tampering, each named -------------------------------------------------------------


def test_modified_record_is_named(db: Path) -> None:
    tamper(db, f"UPDATE {TABLE} SET decision = 'allow', signal = NULL WHERE seq = 6")
    assert problems(db) == [(6, "modified")]


def test_modified_and_resealed_record_is_named(db: Path) -> None:
    tamper(db, f"UPDATE {TABLE} SET reason = 'nothing to see' WHERE seq = 6")
    reseal(db, 6)
    assert problems(db) == [(6, "modified")]


def test_deleted_record_is_named(db: Path) -> None:
    tamper(db, f"DELETE FROM {TABLE} WHERE seq = 4")
    assert problems(db) == [(4, "deleted")]


def test_deleted_first_record_is_named(db: Path) -> None:
    tamper(db, f"DELETE FROM {TABLE} WHERE seq = 1")
    assert problems(db) == [(1, "deleted")]


def test_deleted_and_renumbered_is_named_once(db: Path) -> None:
    tamper(
        db,
        f"DELETE FROM {TABLE} WHERE seq = 4",
        f"UPDATE {TABLE} SET seq = seq + 1000 WHERE seq > 4",
        f"UPDATE {TABLE} SET seq = seq - 1001 WHERE seq > 1000",
    )
    assert problems(db) == [(4, "deleted")]


def test_swapped_records_are_named_reordered(db: Path) -> None:
    tamper(
        db,
        f"UPDATE {TABLE} SET seq = -1 WHERE seq = 3",
        f"UPDATE {TABLE} SET seq = 3 WHERE seq = 7",
        f"UPDATE {TABLE} SET seq = 7 WHERE seq = -1",
    )
    assert problems(db) == [(3, "reordered"), (7, "reordered")]


def test_adjacent_swap_is_named_reordered(db: Path) -> None:
    tamper(
        db,
        f"UPDATE {TABLE} SET seq = -1 WHERE seq = 5",
        f"UPDATE {TABLE} SET seq = 5 WHERE seq = 6",
        f"UPDATE {TABLE} SET seq = 6 WHERE seq = -1",
    )
    assert problems(db) == [(5, "reordered"), (6, "reordered")]


def test_inserted_record_is_named(db: Path) -> None:
    with SqliteAuditStore(db, create=False) as store:
        third = next(r for r in store.records() if r.seq == 3)
    forged = next_record(third, event(99, decision="allow", reason="looks routine"))
    values = ", ".join(
        "NULL" if v is None else repr(v) for v in forged.to_dict().values()
    )  # an intruder's hand-written INSERT
    columns = ", ".join(forged.to_dict())
    tamper(
        db,
        f"UPDATE {TABLE} SET seq = seq + 1000 WHERE seq >= 4",
        f"UPDATE {TABLE} SET seq = seq - 999 WHERE seq > 1000",
        f"INSERT INTO {TABLE} ({columns}) VALUES ({values})",
    )
    assert problems(db) == [(4, "inserted")]


def test_out_of_order_list_is_named_reordered() -> None:
    records = chain(5)
    shuffled = [records[0], records[1], records[3], records[2], records[4]]
    report = verify_chain(shuffled)
    assert [(p.seq, p.code) for p in report.problems] == [(4, "reordered"), (3, "reordered")]


def test_duplicate_seq_in_a_list_is_named_inserted() -> None:
    records = chain(4)
    forged = next_record(records[1], event(50))
    report = verify_chain([*records[:3], forged, records[3]])
    assert [(p.seq, p.code) for p in report.problems] == [(3, "inserted")]


def test_bad_genesis_is_named() -> None:
    fake_start = AuditRecord(0, GENESIS_HASH, "f" * 64, event(0))
    records = [next_record(fake_start, event(1))]
    records.append(next_record(records[0], event(2)))
    report = verify_chain(records)
    assert [(p.seq, p.code) for p in report.problems] == [(1, "bad_genesis")]


def test_problem_text_names_seq_and_code(db: Path) -> None:
    tamper(db, f"DELETE FROM {TABLE} WHERE seq = 4")
    with SqliteAuditStore(db, create=False) as store:
        report = verify_chain(store.records())
    assert str(report.problems[0]).startswith("seq 4: deleted: ")
    assert report.to_dict()["problems"][0]["code"] == "deleted"


def test_dropped_tail_needs_the_kept_head(db: Path) -> None:
    with SqliteAuditStore(db, create=False) as store:
        head = verify_chain(store.records())
    tamper(db, f"DELETE FROM {TABLE} WHERE seq >= 9")
    with SqliteAuditStore(db, create=False) as store:
        records = list(store.records())
    # A bare chain cannot see a cut tail ...
    assert verify_chain(records).ok
    # ... the head kept elsewhere can.
    report = verify_chain(records, expect_head=(head.last_seq, head.last_hash))
    assert [(p.seq, p.code) for p in report.problems] == [(10, "head")]


def test_max_problems_truncates() -> None:
    records = [replace(r, hash="e" * 64) for r in chain(20)]
    report = verify_chain(records, max_problems=3)
    assert len(report.problems) == 3 and report.truncated


def test_postgres_store_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_os.kernel_worker import PostgresAuditStore

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    with pytest.raises(AuditStoreError) as info:
        PostgresAuditStore("postgresql://127.0.0.1:1/x")
    assert info.value.code == "missing_dependency"
    assert not info.value.retryable
    assert "agent-os[postgres]" in str(info.value)


def test_gap_records_closed_by_late_ones_are_not_problems() -> None:
    from agent_os.audit._signed import gap_event

    s, older = "kernel-1/aa", "kernel-1/bb"
    marks = [
        gap_event(s, (3, 5), now=1.0),
        gap_event(s, (3, 4), now=2.0, late=True),
        replace(gap_event(older, (7, 7), now=3.0), tool=None, request_id=None),  # older sink's
        gap_event(s, (9, 9), now=4.0),
        gap_event(s, (5, 5), now=5.0, late=True),
        gap_event("kernel-1/cc", (9, 9), now=6.0, late=True),  # another stream's numbers
    ]
    records: list[AuditRecord] = []
    for mark in marks:
        records.append(next_record(records[-1] if records else None, mark))
    report = verify_chain(records)
    assert [(p.seq, p.code) for p in report.problems] == [(3, "gap"), (4, "gap")]
    assert "of stream kernel-1/bb never reached" in report.problems[0].detail
    partly = verify_chain(records[:2])
    assert [p.detail.rsplit("; ", 1)[1] for p in partly.problems] == ["2 arrived late, 1 never did"]
