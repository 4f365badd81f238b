"""The agent's side of a review: wait for the final verdict on a held action.

The agent got a ``review`` verdict carrying a ticket and a deadline. It polls
the review desks (long polls on ``WAIT_SUBJECT``) until one answers with a
settled verdict, the longest it is willing to wait passes, or the deadline
(which the kernel set from the holding rule's review term) does. Only a
verdict signed by a pinned kernel key, addressed to this agent and bound to
the held request is taken; anything else is ignored and the agent keeps
waiting. Nothing settled by the deadline is a deny (``review_timeout``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

from agent_os.bus import Bus, BusError, Envelope
from agent_os.policies import Decision, PolicyError, Verdict
from agent_os.trust import (
    AgentIdentity,
    SignedMessage,
    TrustError,
    TrustLevel,
    TrustRegistry,
    reply_bound_request,
)

from ._desk import WAIT_RECIPIENT, WAIT_SUBJECT

__all__ = ["accept_verdict", "wait_for_decision"]

log = logging.getLogger("agent_os.review")

#: Extra seconds a poll's bus request waits beyond the window the desk was given.
_GRACE = 2.0
#: Longest single poll: a desk that dies holding it costs the agent at most this (+ grace).
DEFAULT_POLL = 10.0
#: Pause after a failed poll (no desk listening, bus trouble) before the next.
_RETRY = 0.5


def accept_verdict(kernels: TrustRegistry, agent_id: str, body: bytes, request_id: str) -> Verdict:
    """The verdict in ``body`` if a pinned kernel key signed it for this agent and request.

    Anything else comes back as a ``bad_verdict`` deny.
    """
    try:
        message = SignedMessage.from_bytes(body)
    except TrustError as exc:
        return Verdict.deny("bad_verdict", f"verdict unreadable: {exc}")
    result = kernels.verify(message, expected_recipient=agent_id)
    if not result.valid or result.trust_level is not TrustLevel.KERNEL:
        return Verdict.deny("bad_verdict", f"verdict rejected: {result.reason}")
    try:
        verdict = Verdict.from_dict(message.json())
    except (TrustError, PolicyError) as exc:
        return Verdict.deny("bad_verdict", f"verdict unreadable: {exc}")
    if verdict.request_id != request_id:
        return Verdict.deny("bad_verdict", "verdict is bound to another request")
    return verdict


def _timed_out(held: Verdict, why: str) -> Verdict:
    return dataclasses.replace(
        held, decision=Decision.DENY, code="review_timeout", reason=f"{why} ({held.reason})"
    )


async def wait_for_decision(
    bus: Bus,
    identity: AgentIdentity,
    kernels: TrustRegistry,
    held: Verdict,
    *,
    timeout: float,
    poll: float = DEFAULT_POLL,
) -> Verdict:
    """The final verdict on ``held`` (a ``review`` verdict with a ticket); see the module doc."""
    if held.ticket is None or held.request_id is None or held.deadline is None:
        return Verdict.deny("review_unavailable", "the review verdict carries no ticket")
    give_up = min(held.deadline, time.time() + timeout)
    taken: list[Verdict] = []

    def accept(reply: Envelope) -> bool:
        # A forged answer is dropped and the poll goes on: answering first on every
        # poll must not keep the desk's answer from this agent.
        verdict = accept_verdict(kernels, identity.agent_id, reply.body, str(held.request_id))
        if verdict.code == "bad_verdict":
            log.warning("review poll for %s: %s", held.ticket, verdict.reason)
            return False
        taken.append(verdict)
        return True

    while (remaining := give_up - time.time()) > 0:
        window = min(poll, remaining)
        request = Envelope(WAIT_SUBJECT, b"", deadline=time.time() + window + _GRACE)
        try:
            # The poll signs its reply subject: a desk answers there, not to a copy's.
            body, _ = await reply_bound_request(
                request,
                bus.reply_address,
                identity,
                WAIT_RECIPIENT,
                {"ticket": held.ticket, "request_id": held.request_id, "wait": window},
            )
            request = dataclasses.replace(request, body=body)
            taken.clear()
            await bus.request(request, window + _GRACE, accept=accept)
        except BusError as exc:
            log.debug("review poll for %s failed: %s", held.ticket, exc)
            await asyncio.sleep(min(_RETRY, max(give_up - time.time(), 0)))
            continue
        verdict = taken[-1]
        if verdict.decision is Decision.REVIEW:
            continue  # still pending
        if verdict.ticket not in (None, held.ticket):
            continue
        return verdict
    if time.time() >= held.deadline:
        return _timed_out(held, "no decision by the review deadline")
    return _timed_out(held, f"no decision within this agent's longest review wait of {timeout:g}s")
