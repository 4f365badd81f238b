"""The audit trail: events, the hash chain, durable stores and the sink that feeds them."""

from ._chain import (
    GENESIS_HASH,
    AuditRecord,
    ChainProblem,
    ChainReport,
    chain_hash,
    next_record,
    verify_chain,
)
from ._errors import AuditError
from ._events import (
    AUDIT_SUBJECT,
    AuditEvent,
    AuditSink,
    FanoutAudit,
    JsonlAuditLog,
    MemoryAuditLog,
    args_digest,
)
from ._postgres import PostgresAuditStore
from ._publisher import AuditPublisher
from ._sink import AUDIT_SINK_GROUP, AuditSinkWorker
from ._sqlite import SqliteAuditStore
from ._store import AuditStoreError, ChainedAuditStore

__all__ = [
    "AUDIT_SINK_GROUP",
    "AUDIT_SUBJECT",
    "GENESIS_HASH",
    "AuditError",
    "AuditEvent",
    "AuditPublisher",
    "AuditRecord",
    "AuditSink",
    "AuditSinkWorker",
    "AuditStoreError",
    "ChainProblem",
    "ChainReport",
    "ChainedAuditStore",
    "FanoutAudit",
    "JsonlAuditLog",
    "MemoryAuditLog",
    "PostgresAuditStore",
    "SqliteAuditStore",
    "args_digest",
    "chain_hash",
    "next_record",
    "verify_chain",
]
