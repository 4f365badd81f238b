"""The chained audit store in PostgreSQL (psycopg 3, the ``postgres`` extra).

Same table as the SQLite store. Several sink workers may append at once: each
append runs in one transaction that first takes a transaction-level advisory
lock, then reads the head, then inserts, so appends are serialised and the
chain cannot fork (the ``seq`` primary key would refuse a fork anyway). The
lock is released by the commit or rollback, never left behind by a crash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._chain import AuditRecord, next_record
from ._db import PostgresDatabase
from ._events import AuditEvent
from ._store import (
    COLUMNS,
    TABLE,
    AuditStoreError,
    ChainReads,
    column_defs,
    record_from_tuple,
    record_to_tuple,
    streams_defs,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresAuditStore"]

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresAuditStore(ChainReads):
    """A :class:`~agent_os.kernel_worker.ChainedAuditStore` in the database at ``dsn``.

    A lost connection is reopened on the next call (the failed call raises a
    retryable :class:`AuditStoreError`). ``create=False`` refuses a database
    without the audit table. ``table`` (a plain lower-case identifier) keeps
    separate chains in one database.
    """

    _db: PostgresDatabase

    def __init__(
        self,
        dsn: str,
        *,
        table: str = TABLE,
        create: bool = True,
        connect_timeout: float = 10.0,
    ) -> None:
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"table must be a lower-case SQL identifier, not {table!r}")
        self._table = table
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {table}"
        self._mark = "%s"
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        self._insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"
        self._db = PostgresDatabase(
            dsn,
            schema=[
                f"CREATE TABLE IF NOT EXISTS {table} ({column_defs('DOUBLE PRECISION', 'BIGINT')})",
                *streams_defs(table),
            ],
            table=table,
            fail=AuditStoreError,
            who="PostgresAuditStore",
            create=create,
            connect_timeout=connect_timeout,
            missing_code="audit_store_missing",
            what="audit chain",
        )

    def _append_locked(
        self, conn: psycopg.Connection[Any], events: Sequence[AuditEvent]
    ) -> list[AuditRecord]:
        row = conn.execute(f"{self._select} ORDER BY seq DESC LIMIT 1").fetchone()
        last = None if row is None else record_from_tuple(row)
        # One query for the dedupe and one pipelined batch of inserts: round trips dominate.
        ids = [e.event_id for e in events]
        found = conn.execute(f"{self._select} WHERE event_id = ANY(%s)", (ids,)).fetchall()
        known = {r.event_id: r for r in map(record_from_tuple, found)}
        out: list[AuditRecord] = []
        fresh: list[AuditRecord] = []
        for event in events:
            record = known.get(event.event_id)
            if record is None:
                record = last = known[event.event_id] = next_record(last, event)
                fresh.append(record)
            out.append(record)
        if fresh:
            with conn.cursor() as cur:
                cur.executemany(self._insert, [record_to_tuple(r) for r in fresh])
        return out
