"""The chained audit store in PostgreSQL (psycopg 3, the ``postgres`` extra).

Same table as the SQLite store. Several sink workers may append at once: each
append runs in one transaction that first takes a transaction-level advisory
lock, then reads the head, then inserts, so appends are serialised and the
chain cannot fork (the ``seq`` primary key would refuse a fork anyway). The
lock is released by the commit or rollback, never left behind by a crash.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._chain import AuditRecord, next_record
from ._events import AuditEvent, ClosingContext
from ._store import (
    COLUMNS,
    TABLE,
    AuditStoreError,
    column_defs,
    record_from_tuple,
    record_to_tuple,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresAuditStore"]

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: First half of the advisory lock key of a chain's head ("agOS"); the table name is the second.
_LOCK_CLASS = 0x61674F53
_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
_PAGE = 1000


def _psycopg() -> ModuleType:
    try:
        import psycopg
    except ImportError as exc:
        raise AuditStoreError(
            "PostgresAuditStore needs psycopg 3: pip install 'agent-os[postgres]'",
            code="missing_dependency",
            retryable=False,
        ) from exc
    return psycopg


class PostgresAuditStore(ClosingContext):
    """A :class:`~agent_os.kernel_worker.ChainedAuditStore` in the database at ``dsn``.

    A lost connection is reopened on the next call (the failed call raises a
    retryable :class:`AuditStoreError`). ``create=False`` refuses a database
    without the audit table. ``table`` (a plain lower-case identifier) keeps
    separate chains in one database.
    """

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
        self._pg = _psycopg()
        self._table = table
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {table}"
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        self._insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    if create:
                        # Concurrent CREATE TABLE IF NOT EXISTS can still collide: serialise.
                        conn.execute(_LOCK, (_LOCK_CLASS, self._table))
                        conn.execute(
                            f"CREATE TABLE IF NOT EXISTS {table} "
                            f"({column_defs('DOUBLE PRECISION', 'BIGINT')})"
                        )
                    row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            except self._pg.Error as exc:
                self._drop()
                raise AuditStoreError(f"cannot set up the audit table: {exc}") from exc
            if row is None or row[0] is None:
                self._drop()
                raise AuditStoreError(
                    f"the database holds no audit chain (table {table})",
                    code="audit_store_missing",
                    retryable=False,
                )

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            self._drop()
            try:
                conn = self._pg.connect(
                    self._dsn, autocommit=True, connect_timeout=max(1, int(self._connect_timeout))
                )
            except self._pg.Error as exc:
                raise AuditStoreError(f"cannot connect to PostgreSQL: {exc}") from exc
            self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` onto the chain (or return its record if already stored)."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Seal ``events`` in order, in one transaction; duplicates by event_id are skipped."""
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    conn.execute(_LOCK, (_LOCK_CLASS, self._table))
                    return self._append_locked(conn, events)
            except self._pg.Error as exc:
                raise AuditStoreError(f"audit append failed: {exc}") from exc

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

    def record(self, event: AuditEvent) -> None:
        """:class:`~agent_os.kernel_worker.AuditSink`: append ``event``."""
        self.append(event)

    def _fetch(self, query: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connection().execute(query, params).fetchall()
            except self._pg.Error as exc:
                raise AuditStoreError(f"cannot read the audit chain: {exc}") from exc

    def last(self) -> AuditRecord | None:
        """The newest record (highest seq), or ``None`` for an empty chain."""
        rows = self._fetch(f"{self._select} ORDER BY seq DESC LIMIT 1", ())
        return record_from_tuple(rows[0]) if rows else None

    def get(self, event_id: str) -> AuditRecord | None:
        rows = self._fetch(f"{self._select} WHERE event_id = %s", (event_id,))
        return record_from_tuple(rows[0]) if rows else None

    def records(self) -> Iterator[AuditRecord]:
        """Every record by seq, read in pages (appends may interleave between pages)."""
        after = -(2**63)
        while True:
            rows = self._fetch(
                f"{self._select} WHERE seq > %s ORDER BY seq LIMIT %s", (after, _PAGE)
            )
            for row in rows:
                yield record_from_tuple(row)
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][0])

    def __len__(self) -> int:
        (count,) = self._fetch(f"SELECT count(*) FROM {self._table}", ())[0]
        return int(count)

    def close(self) -> None:
        """Close the connection. Idempotent."""
        with self._lock:
            self._drop()
