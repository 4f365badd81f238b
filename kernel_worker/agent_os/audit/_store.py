"""What every chained audit store offers, and the table they share.

    AuditError (kernel_worker)
    └── AuditStoreError      a store cannot be opened, read or written ("audit_store",
                             retryable); not retryable: "missing_dependency" (a
                             backend's client library is not installed) and
                             "audit_store_missing" (no such file / no audit table)

Stores are synchronous (sqlite3, psycopg): async callers run them in a thread.

Beside the chain, each store keeps a table of audit streams (``<table>_streams``:
one row per worker instance, the next event number it expects from it) and of
the gaps still open (``<table>_gaps``), written in the same transaction as the
events: a restarted sink, or another sink on the same store, still sees a jump
in a worker's numbering as a gap, and events that arrive after a later batch
close the gap they opened (a record says so).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from ._chain import AuditRecord
from ._errors import AuditError
from ._events import _FIELD_NAMES, AuditEvent, ClosingContext
from ._signed import advance, gap_event, overlaps

__all__ = [
    "COLUMNS",
    "TABLE",
    "AuditStoreError",
    "ChainReads",
    "ChainedAuditStore",
    "StreamTracking",
]

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


def streams_table(table: str) -> str:
    """The table beside chain ``table`` that holds each stream's next expected number."""
    return f"{table}_streams"


def gaps_table(table: str) -> str:
    """The table beside chain ``table`` that holds the gaps no late batch has closed."""
    return f"{table}_gaps"


def streams_defs(table: str) -> list[str]:
    """``CREATE TABLE`` of the stream and gap tables (the same in SQLite and PostgreSQL)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {streams_table(table)} "
        "(stream TEXT PRIMARY KEY, next_seq BIGINT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {gaps_table(table)} (stream TEXT NOT NULL, "
        "first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL, PRIMARY KEY (stream, first_seq))",
    ]


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


@runtime_checkable
class StreamTracking(Protocol):
    """A chained store that also keeps each audit stream's next expected number."""

    def append_batch(
        self, stream: str, first: int, events: Sequence[AuditEvent]
    ) -> tuple[list[AuditRecord], tuple[int, int] | None]:
        """Append a stream's batch numbered from ``first``; also the gap before it, if any."""
        ...


class _Queries(Protocol):
    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def write(self, failure: str, *, lock: str | None = None) -> AbstractContextManager[Any]: ...

    def close(self) -> None: ...


_PAGE = 1000


class ChainReads(ClosingContext):
    """What every SQL chain store shares; a store sets the four attributes.

    ``_db`` runs queries and write transactions, ``_table`` names the table,
    ``_select`` selects :data:`COLUMNS` from it and ``_mark`` is the
    driver's placeholder. A store implements :meth:`_append_locked`, the
    append inside a transaction that holds the chain's write lock.
    """

    _db: _Queries
    _table: str
    _select: str
    _mark: str

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` onto the chain (or return its record if already stored)."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Seal ``events`` in order, in one transaction; duplicates by event_id are skipped."""
        with self._db.write("audit append failed", lock=self._table) as conn:
            return self._append_locked(conn, events)

    def append_batch(
        self, stream: str, first: int, events: Sequence[AuditEvent]
    ) -> tuple[list[AuditRecord], tuple[int, int] | None]:
        """:class:`StreamTracking`: the gap record (if any) and ``events``, in one transaction.

        The stream's next expected number and its open gaps are read and
        written under the chain's write lock, so gap records, events and
        numbers are stored together or not at all: a redelivered batch finds
        its numbers already seen and records no second gap. A batch whose
        numbers lie in an open gap closes that part of it, with a record.
        """
        m, streams, gaps = self._mark, streams_table(self._table), gaps_table(self._table)
        last = first + len(events) - 1
        with self._db.write("audit append failed", lock=self._table) as conn:
            row = conn.execute(
                f"SELECT next_seq FROM {streams} WHERE stream = {m}", (stream,)
            ).fetchone()
            expected = None if row is None else int(row[0])
            after, missing = advance(expected, first, len(events))
            marks = [] if missing is None else [gap_event(stream, missing)]
            if missing is not None:
                conn.execute(f"INSERT INTO {gaps} VALUES ({m}, {m}, {m})", (stream, *missing))
            elif events and expected is not None and first < expected:  # late, or again
                opened = conn.execute(
                    f"SELECT first_seq, last_seq FROM {gaps} WHERE stream = {m} "
                    f"AND first_seq <= {m} AND last_seq >= {m}",
                    (stream, last, first),
                ).fetchall()
                for gap in opened:
                    closed, rest = overlaps((int(gap[0]), int(gap[1])), (first, last))
                    marks.append(gap_event(stream, closed, late=True))
                    conn.execute(
                        f"DELETE FROM {gaps} WHERE stream = {m} AND first_seq = {m}",
                        (stream, gap[0]),
                    )
                    for piece in rest:
                        conn.execute(f"INSERT INTO {gaps} VALUES ({m}, {m}, {m})", (stream, *piece))
            records = self._append_locked(conn, [*marks, *events])
            conn.execute(
                f"INSERT INTO {streams} (stream, next_seq) VALUES ({m}, {m}) "
                "ON CONFLICT (stream) DO UPDATE SET next_seq = excluded.next_seq",
                (stream, after),
            )
        return records, missing

    def open_gaps(self) -> dict[str, list[tuple[int, int]]]:
        """Each stream's numbers still missing, as the sinks recorded them."""
        rows = self._db.query(
            f"SELECT stream, first_seq, last_seq FROM {gaps_table(self._table)} "
            "ORDER BY stream, first_seq"
        )
        out: dict[str, list[tuple[int, int]]] = {}
        for stream, low, high in rows:
            out.setdefault(str(stream), []).append((int(low), int(high)))
        return out

    def streams(self) -> dict[str, int]:
        """Each audit stream's next expected number, as the sinks recorded it."""
        rows = self._db.query(f"SELECT stream, next_seq FROM {streams_table(self._table)}")
        return {str(stream): int(after) for stream, after in rows}

    def _append_locked(self, conn: Any, events: Sequence[AuditEvent]) -> list[AuditRecord]:
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
