"""What travels between CMVK clients and verifier workers.

A request is an :class:`~agent_os.bus.Envelope` on :data:`CMVK_SUBJECT` whose
body is a :class:`~agent_os.trust.SignedMessage` from the client to
:data:`VERIFIER_RECIPIENT`; its content is JSON::

    {"prompt": "...", "models": ["gpt-4o", ...], "threshold": 0.8, "quorum": 2,
     "reply_to": "<the request's reply subject>"}

``reply_to`` binds where the reply goes: a worker answers there, under the
request's message id, whatever ``reply_to`` the envelope of a copy carries,
so whoever re-publishes a client's bytes with its own reply subject learns
nothing; a request without it is refused (``reply_unbound``) unless the
worker is told to serve older clients. :func:`verify_request` builds one.

A reply is a ``SignedMessage`` from a verifier key (which clients pin) to the
client, whose content binds it to the request::

    {"request_id": "<request message id>", "result": {...ConsensusResult...}}
    {"request_id": "<request message id>", "error": {"code": "...", "message": "..."}}
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from agent_os.bus import Bus, Envelope
from agent_os.trust import AgentIdentity, SignedMessage, StrictJSONError, reply_bound_request

from ._errors import VerifierError

CMVK_SUBJECT = "agentos.v1.cmvk"
VERIFIER_RECIPIENT = "agentos.cmvk"
WORKER_GROUP = "agentos-cmvk"
MAX_MODELS = 16
MAX_PROMPT_CHARS = 100_000

_KEYS = frozenset({"prompt", "models", "threshold", "quorum"})
_OPTIONAL = frozenset({"reply_to"})


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """A parsed request, after its signature was verified."""

    request_id: str
    sender_id: str
    prompt: str
    models: tuple[str, ...]
    threshold: float
    quorum: int
    #: Where the client signed that the reply must go; None from a client that binds none.
    reply_to: str | None = None


def request_content(
    prompt: str, models: tuple[str, ...], threshold: float, quorum: int
) -> dict[str, Any]:
    """The JSON content of a verification request (:func:`verify_request` adds ``reply_to``)."""
    return {"prompt": prompt, "models": list(models), "threshold": threshold, "quorum": quorum}


async def verify_request(
    bus: Bus,
    client: AgentIdentity,
    content: dict[str, Any],
    *,
    timeout: float,
    subject: str = CMVK_SUBJECT,
) -> Envelope:
    """A request from ``client`` for ``bus.request(envelope, timeout)``, its reply subject
    (``Bus.reply_address``) signed into ``content`` and set, under the message id."""
    request = Envelope(subject=subject, body=b"", deadline=time.time() + timeout)
    body, reply_to = await reply_bound_request(
        request, bus.reply_address, client, VERIFIER_RECIPIENT, content
    )
    return replace(request, body=body, reply_to=reply_to)


def _bad(message: str) -> VerifierError:
    return VerifierError(message, code="malformed_request")


def parse_request(message: SignedMessage) -> VerifyRequest:
    """Read a verified request; raise ``VerifierError`` (``malformed_request``)."""
    try:
        content = message.json()
    except StrictJSONError as exc:
        raise _bad(f"request is not strict JSON: {exc}") from None
    if not isinstance(content, dict) or set(content) - _KEYS - _OPTIONAL:
        raise _bad(f"request must be an object with the keys {sorted(_KEYS)} (and reply_to)")
    reply_to = content.get("reply_to")
    if reply_to is not None and (not isinstance(reply_to, str) or not reply_to):
        raise _bad("'reply_to' must be a non-empty string")
    prompt, models = content.get("prompt"), content.get("models")
    threshold, quorum = content.get("threshold"), content.get("quorum")
    if not isinstance(prompt, str) or not prompt or len(prompt) > MAX_PROMPT_CHARS:
        raise _bad(f"'prompt' must be a string of 1..{MAX_PROMPT_CHARS} characters")
    if (
        not isinstance(models, list)
        or not 1 <= len(models) <= MAX_MODELS
        or not all(isinstance(m, str) and m for m in models)
    ):
        raise _bad(f"'models' must be a list of 1..{MAX_MODELS} model strings")
    if (
        not isinstance(threshold, int | float)
        or isinstance(threshold, bool)
        or not math.isfinite(threshold)
        or not 0 <= threshold <= 1
    ):
        raise _bad("'threshold' must be a number in [0, 1]")
    if not isinstance(quorum, int) or isinstance(quorum, bool) or not 1 <= quorum <= len(models):
        raise _bad("'quorum' must be an integer in 1..len(models)")
    return VerifyRequest(
        message.id, message.sender_id, prompt, tuple(models), float(threshold), quorum, reply_to
    )


def sign_reply(verifier: AgentIdentity, client_id: str, content: dict[str, Any]) -> bytes:
    """The wire bytes of a reply signed by ``verifier`` for ``client_id``."""
    return SignedMessage.create(verifier, client_id, content).to_bytes()
