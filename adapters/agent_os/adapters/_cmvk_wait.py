"""A CMVK pool client waits for the review of its flagged result over the bus.

A pool worker run with ``--review-store`` opens a review item for a flagged
result (:class:`~._cmvk_review.QueueReview`): held for the request's id and
the client's agent id, exactly as a kernel worker holds an agent's action.
The review desks (every kernel worker with that review store, and the
console) therefore answer the client's wait as they answer an agent's:
:class:`DeskReviewDecisions` polls them with
:func:`agent_os.review.wait_for_decision` (signed long polls on
``WAIT_SUBJECT``), so the client needs its bus, its identity and the kernel
keys it pins, never the store::

    verifier = ConsensusVerifier(models, bus=bus, identity=me, verifier_keys=[pool],
                                 review_decisions=DeskReviewDecisions(bus, me, [kernel]))
    result = await verifier.verify_consensus(prompt)
    if result.pending_review:
        decision = await verifier.review_decision(result.review_ticket, timeout=600)

The desk answers only the agent the item was held for, about the request it
was held for: the verifier remembers which of its requests brought each
ticket (:meth:`RemoteVerifier.held_request`) and passes it on. ``identity``
must be the verifier's own.

Fail closed: only an ``allow`` verdict signed by a pinned kernel key, for this
agent and bound to that request, is approved. A deny comes back with its code
(``review_denied``, ``review_timeout`` at the item's deadline,
``review_unverified`` when an approval's signatures do not hold,
``review_unknown`` for a ticket the store does not have); an answer signed by
another key, or for another request, is ignored and the wait goes on (anyone
who can publish on the reply subject could otherwise end it), so no genuine
answer within ``timeout`` is ``review_timeout``; a ticket whose request this
client does not know is ``review_unknown``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from agent_os.bus import Bus
from agent_os.policies import Decision, Signal, Verdict
from agent_os.review import wait_for_decision
from agent_os.trust import AgentIdentity, PublicIdentity, TrustRegistry
from agent_os.verifier import ReviewDecision

from ._cmvk_review import ACTION, RULE

__all__ = ["DeskReviewDecisions"]

#: Longest single long poll (a desk keeps one at most 30 s).
DEFAULT_POLL = 10.0


class DeskReviewDecisions:
    """Reads review decisions from the review desks on ``bus`` (see the module docstring).

    ``kernel_keys`` are the public identities of the kernels whose desks may
    answer, pinned as :class:`~agent_os.adapters.KernelClient` pins them.
    ``poll`` bounds one long poll: a desk that dies holding it costs at most that.
    """

    def __init__(
        self,
        bus: Bus,
        identity: AgentIdentity,
        kernel_keys: Iterable[PublicIdentity],
        *,
        poll: float = DEFAULT_POLL,
    ) -> None:
        keys = list(kernel_keys)
        if not keys:
            raise ValueError("DeskReviewDecisions needs at least one pinned kernel key")
        if not (math.isfinite(poll) and poll > 0):
            raise ValueError(f"poll must be a positive number of seconds, not {poll!r}")
        self._bus = bus
        self._identity = identity
        self._kernels = TrustRegistry.pinned(keys)
        self._poll = poll

    @property
    def agent_id(self) -> str:
        """The agent the waits are signed by (the item's agent must be this one)."""
        return self._identity.agent_id

    async def decision(
        self, ticket: str, *, timeout: float, request_id: str | None = None
    ) -> ReviewDecision:
        """The decision on ``ticket``, held for ``request_id``, within ``timeout`` seconds."""
        if request_id is None:
            return ReviewDecision.not_approved(
                ticket,
                "review_unknown",
                f"review ticket {ticket} came with no request of this client's: "
                "the desks answer only about the request it was held for",
            )
        # What the desks' answers are checked against: this ticket, this request, and
        # no later than this client waits (the item's own deadline is the desk's to apply).
        give_up = time.time() + max(timeout, 0.0)
        held = Verdict(
            decision=Decision.REVIEW,
            signal=Signal.SIGSTOP,
            rule=RULE,
            reason="models disagree",
            matched=None,
            policy="cmvk",
            policy_hash="",
            code=ACTION,
            request_id=request_id,
            ticket=ticket,
            deadline=give_up,
        )
        verdict = await wait_for_decision(
            self._bus, self._identity, self._kernels, held, timeout=timeout, poll=self._poll
        )
        code = str(verdict.code)
        if verdict.decision is Decision.ALLOW and code == "review_approved":
            return ReviewDecision(ticket, True, code, verdict.reason)
        if verdict.decision is Decision.ALLOW or not code.startswith("review_"):
            # Not a desk's answer (every one of theirs carries a review code): not approved.
            code = "review_unverified"
        if code == "review_timeout" and time.time() >= give_up:
            return ReviewDecision.not_approved(
                ticket, code, f"no decision from a review desk within {timeout:g}s"
            )
        return ReviewDecision.not_approved(ticket, code, verdict.reason)
