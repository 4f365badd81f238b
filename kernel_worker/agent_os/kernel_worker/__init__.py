"""The kernel: policy engine, in-process KernelSpace and the bus Worker."""

from ._audit import (
    AuditEvent,
    AuditSink,
    FanoutAudit,
    JsonlAuditLog,
    MemoryAuditLog,
    args_digest,
)
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
    "AUDIT_SUBJECT",
    "CONTROL_SUBJECT",
    "DURATION_BUCKETS",
    "KERNEL_RECIPIENT",
    "WORKER_GROUP",
    "ActionRule",
    "Approver",
    "AuditError",
    "AuditEvent",
    "AuditSink",
    "AutoApprove",
    "AutoDeny",
    "CallbackApprover",
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
    "ReviewOutcome",
    "ReviewRequest",
    "Signal",
    "UnknownPolicy",
    "Verdict",
    "Worker",
    "action_content",
    "args_digest",
    "instrumented",
    "load_policies",
    "load_policy",
    "presets",
    "start_metrics_server",
]
