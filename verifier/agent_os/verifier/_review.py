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
