"""From a review item to the verdict an agent receives, and to its audit events.

``final_verdict`` is the only place an approval becomes an allow, and it
re-verifies every approving decision's signature against the trust registry
first (see ``_decision``): a settled row that no reviewer signed is a deny.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from agent_os.audit import AuditEvent
from agent_os.policies import Decision, Verdict
from agent_os.trust import TrustRegistry

from ._decision import verify_decision
from ._errors import DecisionRefused
from ._item import DecisionRecord, ReviewItem, Status

__all__ = ["decision_event", "final_verdict", "outcome_event", "pending_verdict"]

#: The review outcome an audit event records for each settled status.
OUTCOMES = {Status.APPROVED: "approved", Status.DENIED: "denied", Status.EXPIRED: "timeout"}


def pending_verdict(item: ReviewItem) -> Verdict:
    """The ``review`` verdict that tells the agent its action is held under ``item.ticket``."""
    return dataclasses.replace(
        item.verdict,
        decision=Decision.REVIEW,
        request_id=item.request_id,
        ticket=item.ticket,
        deadline=item.deadline,
    )


def _say(item: ReviewItem, verb: str, who: str | None) -> str:
    comment = f": {item.comment}" if item.comment else ""
    return f"{verb} by {who or '?'}{comment} (held for: {item.verdict.reason})"


def final_verdict(item: ReviewItem, registry: TrustRegistry, now: float) -> Verdict:
    """The verdict ``item`` stands for at ``now``: pending (``review``), allow or deny."""
    status = item.status_at(now)
    held = pending_verdict(item)
    if status is Status.PENDING:
        return held
    if status is Status.EXPIRED:
        return dataclasses.replace(
            held,
            decision=Decision.DENY,
            code="review_timeout",
            reason=f"no decision by the review deadline (held for: {item.verdict.reason})",
        )
    if status is Status.DENIED:
        return dataclasses.replace(
            held,
            decision=Decision.DENY,
            code="review_denied",
            reason=_say(item, "denied", item.decided_by),
        )
    problem = _unverified(item, registry)
    if problem is not None:
        return dataclasses.replace(
            held,
            decision=Decision.DENY,
            code="review_unverified",
            reason=f"approval not accepted: {problem}",
        )
    return dataclasses.replace(
        held,
        decision=Decision.ALLOW,
        code="review_approved",
        reason=_say(item, "approved", item.decided_by),
    )


def _unverified(item: ReviewItem, registry: TrustRegistry) -> str | None:
    """Why ``item``'s approval cannot be trusted, or ``None`` when every signature holds."""
    reviewers: set[str] = set()
    for record in item.decisions:
        if not record.approve:
            return f"a deny by {record.reviewer} is on record"
        try:
            verified = verify_decision(registry, record.signed, fresh=False)
        except DecisionRefused as exc:
            return str(exc)
        if (verified.ticket, verified.reviewer, verified.approve) != (
            item.ticket,
            record.reviewer,
            True,
        ):
            return f"the signed decision of {record.reviewer} does not match the record"
        reviewers.add(verified.reviewer)
    if len(reviewers) < item.approvals:
        return f"{len(reviewers)} signed approval(s), {item.approvals} needed"
    return None


def _action(item: ReviewItem) -> Mapping[str, object]:
    action: dict[str, object] = {"agent_id": item.agent_id, "action": item.action}
    if item.tool is not None:
        action["tool"] = item.tool
    return action


def _event(
    item: ReviewItem, verdict: Verdict, event_id: str, review: str, now: float
) -> AuditEvent:
    event = AuditEvent.from_verdict(_action(item), verdict, now=now, review=review)
    # The item keeps only the digest of the real arguments; the event carries that one.
    # A fixed event id makes the event idempotent in a chained store (recorded once).
    return dataclasses.replace(event, event_id=event_id, args_digest=item.args_digest)


def decision_event(item: ReviewItem, record: DecisionRecord, now: float) -> AuditEvent:
    """The audit event of one reviewer's decision (who, which key signed, the comment)."""
    verdict = dataclasses.replace(
        pending_verdict(item),
        decision=Decision.ALLOW if record.approve else Decision.DENY,
        code="review_approve" if record.approve else "review_deny",
        reason=f"{'approved' if record.approve else 'denied'} by {record.reviewer}"
        f" (signed by {record.signer}): {record.comment}",
        kernel_id=record.signer,
    )
    review = "approved" if record.approve else "denied"
    return _event(item, verdict, f"review-{item.ticket}-{record.reviewer}", review, now)


def outcome_event(item: ReviewItem, verdict: Verdict, now: float) -> AuditEvent:
    """The audit event of how the review ended, as delivered to the agent."""
    status = item.status_at(now)
    review = "denied" if verdict.code == "review_unverified" else OUTCOMES[status]
    return _event(item, verdict, f"review-{item.ticket}-final", review, now)
