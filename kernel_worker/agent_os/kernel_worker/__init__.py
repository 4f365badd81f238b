"""The kernel: policy engine, in-process KernelSpace and the bus Worker."""

from ._audit import (
    AuditEvent,
    AuditSink,
    FanoutAudit,
    JsonlAuditLog,
    MemoryAuditLog,
    args_digest,
)
from ._audit_chain import (
    GENESIS_HASH,
    AuditRecord,
    ChainProblem,
    ChainReport,
    chain_hash,
    next_record,
    verify_chain,
)
from ._audit_postgres import PostgresAuditStore
from ._audit_sink import AUDIT_SINK_GROUP, AuditSinkWorker
from ._audit_sqlite import SqliteAuditStore
from ._audit_store import AuditStoreError, ChainedAuditStore
from ._errors import (
    AuditError,
    MetricsError,
    PolicyError,
    PolicyLoadError,
    PolicyViolation,
    UnknownPolicy,
)
from ._kernel_space import KernelSpace
from ._metrics import DURATION_BUCKETS, Metrics, instrumented, start_metrics_server
from ._policy import Policy
from ._policy_load import load_policies, load_policy, presets
from ._policy_types import ActionRule, Decision, Pattern, Signal, Verdict
from ._review import (
    Approver,
    AutoApprove,
    AutoDeny,
    CallbackApprover,
    DenyAfterTimeout,
    ReviewOutcome,
    ReviewRequest,
)
from ._wire import (
    ACTION_SUBJECT,
    AUDIT_SUBJECT,
    CONTROL_SUBJECT,
    KERNEL_RECIPIENT,
    WORKER_GROUP,
    action_content,
)
from ._worker import Worker

__all__ = [
    "ACTION_SUBJECT",
    "AUDIT_SINK_GROUP",
    "AUDIT_SUBJECT",
    "CONTROL_SUBJECT",
    "DURATION_BUCKETS",
    "GENESIS_HASH",
    "KERNEL_RECIPIENT",
    "WORKER_GROUP",
    "ActionRule",
    "Approver",
    "AuditError",
    "AuditEvent",
    "AuditRecord",
    "AuditSink",
    "AuditSinkWorker",
    "AuditStoreError",
    "AutoApprove",
    "AutoDeny",
    "CallbackApprover",
    "ChainProblem",
    "ChainReport",
    "ChainedAuditStore",
    "Decision",
    "DenyAfterTimeout",
    "FanoutAudit",
    "JsonlAuditLog",
    "KernelSpace",
    "MemoryAuditLog",
    "Metrics",
    "MetricsError",
    "Pattern",
    "Policy",
    "PolicyError",
    "PolicyLoadError",
    "PolicyViolation",
    "PostgresAuditStore",
    "ReviewOutcome",
    "ReviewRequest",
    "Signal",
    "SqliteAuditStore",
    "UnknownPolicy",
    "Verdict",
    "Worker",
    "action_content",
    "args_digest",
    "chain_hash",
    "instrumented",
    "load_policies",
    "load_policy",
    "next_record",
    "presets",
    "start_metrics_server",
    "verify_chain",
]
