"""CMVK disagreements into the review queue (``agent-os verifier --review-on-disagreement``).

The verifier may not import the review store (the kernel's root, which holds
``agent_os.review``, imports the verifier), so the bridge sits here, where
both are in reach: :class:`QueueReview` is the verifier's
:class:`~agent_os.verifier.ReviewSink`. A flagged result becomes a held
action, the same kind of item a SIGSTOP rule holds::

    {"action": "cmvk_disagreement", "agent_id": <who asked>, "request_id": <request id>,
     "args": {"prompt": ..., "answers": {model: answer or null},
              "clusters": [[model, ...], ...], "majority_answer": ...,
              "dissenting_models": [...], "failed_models": [...],
              "agreement": ..., "threshold": ...}}

held by a SIGSTOP verdict of rule ``cmvk:disagreement`` (its review terms, if
any, come from the review rules file under that rule id). The store keeps one
item per request id, so a redelivered request finds the item its first
delivery opened. Reviewers see and decide it with ``agent-os review`` or the
console like any held action; arguments are redacted as for any item.

:meth:`QueueReview.decision` waits for the item to settle, reading the store
as the in-process kernel does (:meth:`ReviewQueue.settled`): the answer to
``await verifier.review_decision(ticket, timeout=...)``. Only an approval whose
signatures verify against the queue's registry is approved; a deny, the
item's deadline, ``timeout``, an unknown ticket or a failing store is not
(:class:`~agent_os.verifier.ReviewDecision` codes). A pool's client reads
the store its workers write to (``--review-store``) the same way:
``await QueueReview(queue).decision(result.review_ticket, timeout=...)``; one
that cannot open the store asks the review desks over the bus instead
(:class:`~._cmvk_wait.DeskReviewDecisions`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from agent_os.policies import Decision, Signal, Verdict
from agent_os.review import ReviewError, ReviewQueue
from agent_os.verifier import Disagreement, ReviewDecision, VerifierError

__all__ = ["ACTION", "RULE", "QueueReview", "held_action"]

RULE = "cmvk:disagreement"
ACTION = "cmvk_disagreement"


def held_action(disagreement: Disagreement) -> dict[str, Any]:
    """The action a review item holds for ``disagreement``."""
    result = disagreement.result
    return {
        "action": ACTION,
        "agent_id": disagreement.agent_id,
        "request_id": disagreement.request_id,
        "args": {
            "prompt": disagreement.prompt,
            "answers": disagreement.answers(),
            "clusters": [list(c) for c in result.clusters],
            "majority_answer": result.majority_answer,
            "dissenting_models": list(result.dissenting_models),
            "failed_models": list(result.failed_models),
            "agreement": result.agreement,
            "threshold": result.threshold,
        },
    }


def _reason(disagreement: Disagreement) -> str:
    result = disagreement.result
    dissent = ", ".join(result.dissenting_models) or "none"
    return (
        f"models disagree: agreement {result.agreement:.2f} below {result.threshold:.2f} "
        f"({len(result.clusters)} meanings; dissenting: {dissent})"
    )


class QueueReview:
    """Opens a review item in ``queue`` for each disagreement; a failing store is an error."""

    def __init__(self, queue: ReviewQueue, *, policy: str = "cmvk") -> None:
        self._queue = queue
        self._policy = policy

    async def open(self, disagreement: Disagreement) -> str:
        """The ticket of the item for ``disagreement.request_id`` (opened now or before)."""
        verdict = Verdict(
            decision=Decision.REVIEW,
            signal=Signal.SIGSTOP,
            rule=RULE,
            reason=_reason(disagreement),
            matched=None,
            policy=self._policy,
            policy_hash="",
            code=ACTION,
            request_id=disagreement.request_id,
        )
        try:
            item = await self._queue.hold(held_action(disagreement), verdict)
        except ReviewError as exc:
            raise VerifierError(f"review store: {exc}", code="review_unavailable") from exc
        return item.ticket

    async def decision(
        self, ticket: str, *, timeout: float, request_id: str | None = None
    ) -> ReviewDecision:
        """The decision on ``ticket`` once final, or not approved after ``timeout`` seconds.

        The store is read by ticket: ``request_id`` (the protocol's) is not needed here.
        """
        try:
            item, verdict = await asyncio.wait_for(self._queue.settled(ticket), timeout)
        except TimeoutError:
            return ReviewDecision.not_approved(
                ticket, "review_timeout", f"no decision within {timeout:g}s"
            )
        except LookupError:
            return ReviewDecision.not_approved(
                ticket, "review_unknown", f"no review ticket {ticket} in the review store"
            )
        except ReviewError as exc:
            return ReviewDecision.not_approved(ticket, "review_unavailable", f"review store: {exc}")
        approved = verdict.decision is Decision.ALLOW
        return ReviewDecision(ticket, approved, str(verdict.code), verdict.reason, item.decided_by)
