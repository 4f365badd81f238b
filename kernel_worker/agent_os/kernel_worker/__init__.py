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
from ._call_args import call_args
from ._control import CONTROL_RECIPIENT, ControlEvent, ControlListener, publish_control
from ._errors import (
    AuditError,
    MetricsError,
    PolicyError,
    PolicyLoadError,
    PolicyViolation,
    UnknownPolicy,
)
from ._kernel_space import KernelSpace
from ._limits import (
    LimiterUnavailable,
    Limits,
    RateLimiter,
    RedisTokenBucket,
    TokenBucket,
    check_args,
)
from ._metrics import DURATION_BUCKETS, Metrics, instrumented, start_metrics_server
from ._policy import Policy
from ._policy_load import load_policies, load_policy, presets
from ._policy_rules import Check, CommandRule, NetworkRule, PathRule
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
    "CONTROL_RECIPIENT",
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
    "Check",
    "CommandRule",
    "ControlEvent",
    "ControlListener",
    "Decision",
    "DenyAfterTimeout",
    "FanoutAudit",
    "JsonlAuditLog",
    "KernelSpace",
    "LimiterUnavailable",
    "Limits",
    "MemoryAuditLog",
    "Metrics",
    "MetricsError",
    "NetworkRule",
    "PathRule",
    "Pattern",
    "Policy",
    "PolicyError",
    "PolicyLoadError",
    "PolicyViolation",
    "PostgresAuditStore",
    "RateLimiter",
    "RedisTokenBucket",
    "ReviewOutcome",
    "ReviewRequest",
    "Signal",
    "SqliteAuditStore",
    "TokenBucket",
    "UnknownPolicy",
    "Verdict",
    "Worker",
    "action_content",
    "args_digest",
    "call_args",
    "chain_hash",
    "check_args",
    "instrumented",
    "load_policies",
    "load_policy",
    "next_record",
    "presets",
    "publish_control",
    "start_metrics_server",
    "verify_chain",
]
