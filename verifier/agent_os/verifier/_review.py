"""Disagreements for a person to look at: the hook a review queue plugs into.

A verifier asked to (``review_on_disagreement=``) hands every ``flagged``
result to a :class:`ReviewSink`, which opens a review item (SIGSTOP) and
returns its ticket; the result then carries it (``review_ticket``,
``pending_review``). An ``inconclusive`` result opens none: too few models
answered for there to be a disagreement to judge.

The verifier does not know the review store: ``agent_os.review`` sits in the
kernel's root, which may import the verifier, never the reverse. The sink
that records in the review queue is therefore on the other side,
``agent_os.adapters.QueueReview`` (``agent-os verifier --review-store``).

Fail closed: a sink that cannot open the item makes the verification fail
with ``review_unavailable`` rather than return a disagreement nobody will see.

Waiting for the person: a sink that can also read decisions
(:class:`ReviewDecisions`, as ``QueueReview`` does from the review store, or
``agent_os.adapters.DeskReviewDecisions`` from the review desks over the bus)
answers ``await verifier.review_decision(ticket, timeout=...)`` with a
:class:`ReviewDecision`. Only an approval every signature of which holds is
``approved``; anything else is not, with a stable code: ``review_denied``,
``review_timeout`` (no decision by the item's deadline, or within
``timeout``), ``review_unverified`` (an approval that does not verify),
``review_unknown`` (no such ticket), ``review_unavailable`` (no sink that can
wait, or its store failed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from ._consensus import ConsensusResult
from ._errors import VerifierError


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A flagged verification: who asked what, and what the models said.

    ``request_id`` names the request: a redelivered request carries the same
    one, and a sink opens at most one item per request id.
    """

    request_id: str
    agent_id: str
    prompt: str
    result: ConsensusResult

    def answers(self) -> dict[str, str | None]:
        """Each model's answer (``None`` when it failed), in the order asked."""
        return {m.model: m.answer for m in self.result.models}


@runtime_checkable
class ReviewSink(Protocol):
    """Opens a review item for a disagreement."""

    async def open(self, disagreement: Disagreement) -> str:
        """The ticket of the item opened (or already open) for ``disagreement.request_id``."""
        ...


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    """How a review of a flagged result ended, as its caller may act on it.

    ``approved`` only for an approval that verified; ``code`` says why not otherwise.
    """

    ticket: str
    approved: bool
    code: str
    reason: str
    decided_by: str | None = None

    @classmethod
    def not_approved(cls, ticket: str, code: str, reason: str) -> ReviewDecision:
        """A decision that fails closed: ``code`` and ``reason`` say why."""
        return cls(ticket, False, code, reason)


@runtime_checkable
class ReviewDecisions(Protocol):
    """Reads how review items ended, waiting for a person's decision."""

    async def decision(
        self, ticket: str, *, timeout: float, request_id: str | None = None
    ) -> ReviewDecision:
        """The decision on ``ticket`` once it is final, or a not-approved one (timeout).

        ``request_id`` is the request the item was held for, when known (a
        reader that asks the review desks over the bus needs it).
        """
        ...


async def await_decision(
    decisions: object | None, ticket: str, timeout: float, request_id: str | None = None
) -> ReviewDecision:
    """The decision on ``ticket`` from ``decisions``; fails closed (never raises)."""
    if not isinstance(decisions, ReviewDecisions):
        return ReviewDecision.not_approved(
            ticket, "review_unavailable", "no review sink that can wait for decisions"
        )
    try:
        return await decisions.decision(ticket, timeout=timeout, request_id=request_id)
    except VerifierError as exc:
        return ReviewDecision.not_approved(ticket, exc.code, str(exc))
    except Exception as exc:
        return ReviewDecision.not_approved(
            ticket, "review_unavailable", f"the review decision could not be read: {exc}"
        )


async def open_review(sink: ReviewSink, disagreement: Disagreement) -> ConsensusResult:
    """The result with the ticket of the review its disagreement opened (flagged results only)."""
    result = disagreement.result
    if result.outcome != "flagged":
        return result
    try:
        ticket = await sink.open(disagreement)
    except VerifierError:
        raise
    except Exception as exc:
        raise VerifierError(
            f"a disagreement could not be sent to review: {exc}", code="review_unavailable"
        ) from exc
    return replace(result, review_ticket=ticket)
