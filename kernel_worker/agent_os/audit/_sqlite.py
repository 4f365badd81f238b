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
from collections.abc import Iterator, Sequence
from pathlib import Path

from ._chain import AuditRecord, next_record
from ._db import SqliteDatabase
from ._events import AuditEvent, ClosingContext
from ._store import (
    COLUMNS,
    TABLE,
    AuditStoreError,
    column_defs,
    record_from_tuple,
    record_to_tuple,
)

__all__ = ["SqliteAuditStore"]

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
_INSERT = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_PAGE = 1000


class SqliteAuditStore(ClosingContext):
    """A :class:`~agent_os.kernel_worker.ChainedAuditStore` in the SQLite file ``path``.

    ``create=False`` refuses a file that does not exist or holds no audit
    table (for readers such as ``agent-os audit verify``). Thread-safe: calls
    are serialised on one connection.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 30.0
    ) -> None:
        self._db = SqliteDatabase(
            path,
            schema=[f"CREATE TABLE IF NOT EXISTS {TABLE} ({column_defs('REAL', 'INTEGER')})"],
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

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` onto the chain (or return its record if already stored)."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Seal ``events`` in order, in one transaction; duplicates by event_id are skipped."""
        with self._db.write("audit append failed") as conn:
            out: list[AuditRecord] = []
            row = conn.execute(f"{_SELECT} ORDER BY seq DESC LIMIT 1").fetchone()
            last = None if row is None else record_from_tuple(row)
            for event in events:
                existing = conn.execute(
                    f"{_SELECT} WHERE event_id = ?", (event.event_id,)
                ).fetchone()
                if existing is not None:
                    out.append(record_from_tuple(existing))
                    continue
                record = next_record(last, event)
                conn.execute(_INSERT, record_to_tuple(record))
                out.append(record)
                last = record
            return out

    def record(self, event: AuditEvent) -> None:
        """:class:`~agent_os.kernel_worker.AuditSink`: append ``event``."""
        self.append(event)

    def last(self) -> AuditRecord | None:
        """The newest record (highest seq), or ``None`` for an empty chain."""
        rows = self._db.query(f"{_SELECT} ORDER BY seq DESC LIMIT 1")
        return record_from_tuple(rows[0]) if rows else None

    def get(self, event_id: str) -> AuditRecord | None:
        rows = self._db.query(f"{_SELECT} WHERE event_id = ?", (event_id,))
        return record_from_tuple(rows[0]) if rows else None

    def records(self) -> Iterator[AuditRecord]:
        """Every record by seq, read in pages (appends may interleave between pages)."""
        after = -(2**63)
        while True:
            # seq is the rowid: a negative or zero seq left by tampering still shows.
            rows = self._db.query(f"{_SELECT} WHERE seq > ? ORDER BY seq LIMIT ?", (after, _PAGE))
            for row in rows:
                yield record_from_tuple(row)
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][0])

    def __len__(self) -> int:
        (count,) = self._db.query(f"SELECT count(*) FROM {TABLE}")[0]
        return int(count)

    def close(self) -> None:
        """Close the connection. Idempotent."""
        self._db.close()
