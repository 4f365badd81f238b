"""What the audit sink tests share: quick redelivery and one kind of audit event."""

from __future__ import annotations

from agent_os.bus import SubscribeOptions, new_id
from agent_os.kernel_worker import AuditEvent, Verdict

#: A refused batch is redelivered within seconds and dead-lettered after three tries.
FAST = SubscribeOptions(ack_wait=2.0, max_deliver=3, concurrency=1)


def audit_event(
    kernel_id: str,
    decision: str | None = None,
    *,
    agent_id: str = "agent-1",
    review: str | None = None,
) -> AuditEvent:
    """The event of a denied ``sql`` call judged by ``kernel_id``, recorded as ``decision``
    (default: the verdict's, deny); ``review``: a SIGSTOP outcome."""
    verdict = Verdict.deny("x", "y").bound(new_id(), kernel_id, 1.0)
    event = AuditEvent.from_verdict({"agent_id": agent_id, "action": "sql"}, verdict, review=review)
    if decision is None:
        return event
    return AuditEvent(**{**event.to_dict(), "decision": decision})
