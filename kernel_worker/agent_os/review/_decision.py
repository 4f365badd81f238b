"""A reviewer's decision as a signed message, and its verification.

A decision is a :class:`~agent_os.trust.SignedMessage` to
:data:`DECISION_RECIPIENT` whose JSON content names the ticket, ``approve`` or
``deny``, a comment and the reviewer. Its signer must be registered at
``TrustLevel.REVIEWER``. A reviewer signs for themself (the CLI, with the
reviewer's key). A console signs on behalf of the reviewer who logged in: its
key must hold the :data:`ON_BEHALF` capability, and the reviewer it names must
itself be a registered, unrevoked reviewer.

Decisions are verified twice: when taken (fresh, within the registry's
``max_age``) and again by whichever process turns an approval into the verdict
the agent receives (then at the decision's own time, so only the signature,
the roles and revocation count). A row written into the store by hand,
without a reviewer's key, therefore never becomes an allow.
"""

from __future__ import annotations

import json
from typing import Any

from agent_os.trust import (
    AgentIdentity,
    MalformedMessage,
    SignedMessage,
    TrustError,
    TrustLevel,
    TrustRegistry,
)

from ._errors import DecisionRefused
from ._item import DecisionRecord

__all__ = ["DECISION_RECIPIENT", "ON_BEHALF", "sign_decision", "verify_decision"]

DECISION_RECIPIENT = "agentos.review"
#: Capability of a console key: it may sign decisions naming another reviewer.
ON_BEHALF = "review:on-behalf"
_MAX_COMMENT = 2000


def sign_decision(
    signer: AgentIdentity,
    ticket: str,
    *,
    approve: bool,
    comment: str = "",
    reviewer: str | None = None,
    now: float | None = None,
) -> bytes:
    """The wire bytes of a decision on ``ticket`` signed by ``signer``.

    ``reviewer`` defaults to the signer; a console names the logged-in reviewer.
    """
    content = {
        "ticket": ticket,
        "decision": "approve" if approve else "deny",
        "comment": comment,
        "reviewer": reviewer or signer.agent_id,
    }
    return SignedMessage.create(signer, DECISION_RECIPIENT, content, now=now).to_bytes()


def _refuse(code: str, message: str) -> DecisionRefused:
    return DecisionRefused(message, code=code)


def verify_decision(
    registry: TrustRegistry, signed: bytes, *, now: float | None = None, fresh: bool = True
) -> DecisionRecord:
    """The decision in ``signed`` if a registered reviewer made it; else :class:`DecisionRefused`.

    ``fresh=False`` re-checks a stored decision at its own timestamp.
    """
    try:
        message = SignedMessage.from_bytes(signed)
    except MalformedMessage as exc:
        raise _refuse("malformed_decision", f"decision unreadable: {exc}") from exc
    at = message.timestamp if not fresh else now
    result = registry.verify(message, now=at, expected_recipient=DECISION_RECIPIENT)
    if not result.valid:
        code = "not_reviewer" if result.reason in ("unknown_agent", "revoked") else "bad_signature"
        raise _refuse(code, f"decision by {message.sender_id!r} refused: {result.reason}")
    if result.trust_level is not TrustLevel.REVIEWER:
        raise _refuse("not_reviewer", f"{message.sender_id!r} is not a reviewer")
    content = _content(message)
    reviewer = content["reviewer"]
    if reviewer != message.sender_id:
        if ON_BEHALF not in result.capabilities:
            raise _refuse(
                "not_on_behalf", f"{message.sender_id!r} may not decide on behalf of {reviewer!r}"
            )
        if registry.level(reviewer) is not TrustLevel.REVIEWER:
            raise _refuse("not_reviewer", f"{reviewer!r} is not a registered reviewer")
    return DecisionRecord(
        ticket=content["ticket"],
        reviewer=reviewer,
        signer=message.sender_id,
        approve=content["decision"] == "approve",
        comment=content["comment"],
        at=message.timestamp,
        signed=signed,
    )


def _content(message: SignedMessage) -> dict[str, Any]:
    try:
        content = json.loads(message.content)
    except (ValueError, UnicodeDecodeError, TrustError) as exc:
        raise _refuse("malformed_decision", f"decision content is not JSON: {exc}") from exc
    if not isinstance(content, dict) or set(content) != {
        "ticket",
        "decision",
        "comment",
        "reviewer",
    }:
        raise _refuse(
            "malformed_decision", "decision must hold ticket, decision, comment, reviewer"
        )
    if content["decision"] not in ("approve", "deny"):
        raise _refuse("malformed_decision", "decision must be 'approve' or 'deny'")
    for key in ("ticket", "comment", "reviewer"):
        if not isinstance(content[key], str):
            raise _refuse("malformed_decision", f"decision {key} must be a string")
    if len(content["comment"]) > _MAX_COMMENT:
        raise _refuse("malformed_decision", f"comment longer than {_MAX_COMMENT} characters")
    if content["decision"] == "deny" and not content["comment"].strip():
        raise _refuse("malformed_decision", "a deny needs a comment saying why")
    return content
