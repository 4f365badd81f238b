"""What every chained audit store offers, and the table they share.

    AuditError (kernel_worker)
    └── AuditStoreError      a store cannot be opened, read or written ("audit_store",
                             retryable); not retryable: "missing_dependency" (a
                             backend's client library is not installed) and
                             "audit_store_missing" (no such file / no audit table)

Stores are synchronous (sqlite3, psycopg): async callers run them in a thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from ._chain import AuditRecord
from ._errors import AuditError
from ._events import _FIELD_NAMES, AuditEvent, ClosingContext

__all__ = ["COLUMNS", "TABLE", "AuditStoreError", "ChainReads", "ChainedAuditStore"]

TABLE = "agentos_audit_chain"
#: Column order of the table and of every SELECT: the event, then the chain.
COLUMNS: tuple[str, ...] = ("seq", *_FIELD_NAMES, "prev_hash", "hash")

# SQL types shared by SQLite and PostgreSQL (REAL differs: see each store).
_TEXT_NOT_NULL = frozenset(
    {"event_id", "agent_id", "action", "decision", "reason", "policy", "policy_hash"}
)


def column_defs(real: str, integer: str) -> str:
    """The column list of ``CREATE TABLE`` in a dialect's spelling of REAL / integer."""
    defs = [f"seq {integer} PRIMARY KEY"]
    for name in _FIELD_NAMES:
        if name == "event_id":
            defs.append("event_id TEXT NOT NULL UNIQUE")
        elif name in ("ts",):
            defs.append(f"ts {real} NOT NULL")
        elif name == "elapsed_us":
            defs.append(f"elapsed_us {real}")
        elif name == "args_digest":
            defs.append("args_digest TEXT NOT NULL")
        else:
            defs.append(f"{name} TEXT{' NOT NULL' if name in _TEXT_NOT_NULL else ''}")
    defs += ["prev_hash TEXT NOT NULL", "hash TEXT NOT NULL"]
    return ", ".join(defs)


def record_from_tuple(row: Sequence[object]) -> AuditRecord:
    """A record from a row selected as :data:`COLUMNS`."""
    return AuditRecord.from_row(dict(zip(COLUMNS, row, strict=True)))


def record_to_tuple(record: AuditRecord) -> tuple[object, ...]:
    row = record.to_dict()
    return tuple(row[name] for name in COLUMNS)


class AuditStoreError(AuditError):
    """A chained audit store failed. Retryable unless the code says otherwise."""

    code = "audit_store"
    retryable = True

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = True) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable


@runtime_checkable
class ChainedAuditStore(Protocol):
    """A tamper-evident audit store: each appended event is sealed onto a hash chain.

    ``append`` is atomic and idempotent by ``event_id``: an event already
    stored is not chained again, its existing record is returned. It is also
    an :class:`~agent_os.kernel_worker.AuditSink` (``record``).
    """

    def append(self, event: AuditEvent) -> AuditRecord: ...

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Append several events in one transaction (all or none)."""
        ...

    def records(self) -> Iterator[AuditRecord]:
        """Every record, by seq."""
        ...

    def last(self) -> AuditRecord | None: ...

    def record(self, event: AuditEvent) -> None: ...

    def close(self) -> None: ...


class _Queries(Protocol):
    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def close(self) -> None: ...


_PAGE = 1000


class ChainReads(ClosingContext):
    """The reads every SQL chain store shares; a store sets the four attributes.

    ``_db`` runs queries, ``_table`` names the table, ``_select`` selects
    :data:`COLUMNS` from it and ``_mark`` is the driver's placeholder.
    """

    _db: _Queries
    _table: str
    _select: str
    _mark: str

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` onto the chain (or return its record if already stored)."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        raise NotImplementedError

    def record(self, event: AuditEvent) -> None:
        """:class:`~agent_os.kernel_worker.AuditSink`: append ``event``."""
        self.append(event)

    def last(self) -> AuditRecord | None:
        """The newest record (highest seq), or ``None`` for an empty chain."""
        rows = self._db.query(f"{self._select} ORDER BY seq DESC LIMIT 1")
        return record_from_tuple(rows[0]) if rows else None

    def get(self, event_id: str) -> AuditRecord | None:
        rows = self._db.query(f"{self._select} WHERE event_id = {self._mark}", (event_id,))
        return record_from_tuple(rows[0]) if rows else None

    def records(self) -> Iterator[AuditRecord]:
        """Every record by seq, read in pages (appends may interleave between pages)."""
        after = -(2**63)
        page = f"{self._select} WHERE seq > {self._mark} ORDER BY seq LIMIT {self._mark}"
        while True:
            # A negative or zero seq left by tampering still shows.
            rows = self._db.query(page, (after, _PAGE))
            for row in rows:
                yield record_from_tuple(row)
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][0])

    def __len__(self) -> int:
        (count,) = self._db.query(f"SELECT count(*) FROM {self._table}")[0]
        return int(count)

    def close(self) -> None:
        """Close the connection. Idempotent."""
        self._db.close()
