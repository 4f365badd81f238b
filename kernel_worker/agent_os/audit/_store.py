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
from typing import Protocol, runtime_checkable

from ._chain import AuditRecord
from ._errors import AuditError
from ._events import _FIELD_NAMES, AuditEvent

__all__ = ["COLUMNS", "TABLE", "AuditStoreError", "ChainedAuditStore"]

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
