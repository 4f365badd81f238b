"""The embedded chained audit store: one SQLite file (stdlib ``sqlite3``, WAL).

One table, ``seq`` its primary key and ``event_id`` unique. An append takes
SQLite's write lock first (``BEGIN IMMEDIATE``), so the read of the chain's
head and the insert after it are one step even with several processes on the
same file: the chain cannot fork. Commits are ``synchronous=FULL``: a record
whose append returned survives a power cut, which is what lets the audit sink
ack the bus message after it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from ._chain import AuditRecord, next_record
from ._db import SqliteDatabase
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

__all__ = ["SqliteAuditStore"]

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
_INSERT = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


class SqliteAuditStore(ChainReads):
    """A :class:`~agent_os.kernel_worker.ChainedAuditStore` in the SQLite file ``path``.

    ``create=False`` refuses a file that does not exist or holds no audit
    table (for readers such as ``agent-os audit verify``). Thread-safe: calls
    are serialised on one connection.
    """

    _db: SqliteDatabase

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 30.0
    ) -> None:
        # seq is the rowid.
        self._table, self._select, self._mark = TABLE, _SELECT, "?"
        self._db = SqliteDatabase(
            path,
            schema=[
                f"CREATE TABLE IF NOT EXISTS {TABLE} ({column_defs('REAL', 'INTEGER')})",
                *streams_defs(TABLE),
            ],
            table=TABLE,
            fail=AuditStoreError,
            create=create,
            timeout=timeout,
            missing_code="audit_store_missing",
            what="audit chain",
        )

    @property
    def path(self) -> Path:
        return self._db.path

    def _append_locked(
        self, conn: sqlite3.Connection, events: Sequence[AuditEvent]
    ) -> list[AuditRecord]:
        out: list[AuditRecord] = []
        row = conn.execute(f"{_SELECT} ORDER BY seq DESC LIMIT 1").fetchone()
        last = None if row is None else record_from_tuple(row)
        for event in events:
            existing = conn.execute(f"{_SELECT} WHERE event_id = ?", (event.event_id,)).fetchone()
            if existing is not None:
                out.append(record_from_tuple(existing))
                continue
            record = next_record(last, event)
            conn.execute(_INSERT, record_to_tuple(record))
            out.append(record)
            last = record
        return out
