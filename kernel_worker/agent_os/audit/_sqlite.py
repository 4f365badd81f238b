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
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

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
        self._path = Path(path)
        self._lock = threading.Lock()
        if not create and not self._path.is_file():
            raise AuditStoreError(
                f"no audit database at {self._path}", code="audit_store_missing", retryable=False
            )
        try:
            self._conn = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise AuditStoreError(f"cannot open {self._path}: {exc}", retryable=False) from exc
        try:
            self._setup(create)
        except BaseException:
            self._conn.close()
            raise

    def _setup(self, create: bool) -> None:
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            if create:
                self._conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} ({column_defs('REAL', 'INTEGER')})"
                )
            found = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise AuditStoreError(
                f"{self._path} is not a usable audit database: {exc}", retryable=False
            ) from exc
        if found is None:
            raise AuditStoreError(
                f"{self._path} holds no audit chain (table {TABLE})",
                code="audit_store_missing",
                retryable=False,
            )

    @property
    def path(self) -> Path:
        return self._path

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` onto the chain (or return its record if already stored)."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Seal ``events`` in order, in one transaction; duplicates by event_id are skipped."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    out = self._append_locked(events)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise AuditStoreError(f"audit append to {self._path} failed: {exc}") from exc
            return out

    def _append_locked(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        out: list[AuditRecord] = []
        last = self._last_locked()
        for event in events:
            existing = self._conn.execute(
                f"{_SELECT} WHERE event_id = ?", (event.event_id,)
            ).fetchone()
            if existing is not None:
                out.append(record_from_tuple(existing))
                continue
            record = next_record(last, event)
            self._conn.execute(_INSERT, record_to_tuple(record))
            out.append(record)
            last = record
        return out

    def record(self, event: AuditEvent) -> None:
        """:class:`~agent_os.kernel_worker.AuditSink`: append ``event``."""
        self.append(event)

    def _last_locked(self) -> AuditRecord | None:
        row = self._conn.execute(f"{_SELECT} ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else record_from_tuple(row)

    def last(self) -> AuditRecord | None:
        """The newest record (highest seq), or ``None`` for an empty chain."""
        with self._lock:
            try:
                return self._last_locked()
            except sqlite3.Error as exc:
                raise AuditStoreError(f"cannot read {self._path}: {exc}") from exc

    def get(self, event_id: str) -> AuditRecord | None:
        with self._lock:
            try:
                row = self._conn.execute(f"{_SELECT} WHERE event_id = ?", (event_id,)).fetchone()
            except sqlite3.Error as exc:
                raise AuditStoreError(f"cannot read {self._path}: {exc}") from exc
        return None if row is None else record_from_tuple(row)

    def records(self) -> Iterator[AuditRecord]:
        """Every record by seq, read in pages (appends may interleave between pages)."""
        after = -(2**63)
        while True:
            with self._lock:
                try:
                    # seq is the rowid: a negative or zero seq left by tampering still shows.
                    rows = self._conn.execute(
                        f"{_SELECT} WHERE seq > ? ORDER BY seq LIMIT ?", (after, _PAGE)
                    ).fetchall()
                except sqlite3.Error as exc:
                    raise AuditStoreError(f"cannot read {self._path}: {exc}") from exc
            for row in rows:
                yield record_from_tuple(row)
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][0])

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the connection. Idempotent."""
        with self._lock:
            self._conn.close()
