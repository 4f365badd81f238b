"""What travels between agents and kernel workers.

An action request is an :class:`~agent_os.bus.Envelope` on :data:`ACTION_SUBJECT`
whose body is a :class:`~agent_os.trust.SignedMessage` from the agent to
:data:`KERNEL_RECIPIENT`; its content is JSON::

    {"action": "sql", "args": {...}, "tool": "db", "policy": "strict",
     "reply_to": "<the request's reply subject>"}

The agent's id is the signed sender, never a field the agent fills in.
``reply_to`` binds where the verdict goes: the worker answers there, not to
the envelope's ``reply_to``, so whoever re-publishes the agent's bytes with
its own reply subject sends the verdict to the agent, not to itself. A worker
denies a request without it (``reply_unbound``) unless told to serve older
clients. :func:`action_request` builds a request with it, ready for
``Bus.request``: every sender goes through it.

A verdict is a ``SignedMessage`` from a kernel key to the agent; its content is
``Verdict.to_dict()`` with ``request_id`` set to the request's message id, so a
verdict cannot be replayed onto another request. Audit events travel unsigned
on :data:`AUDIT_SUBJECT` (the audit sink chains and seals them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from agent_os.bus import Bus, Envelope
from agent_os.policies._types import Verdict
from agent_os.trust import AgentIdentity, SignedMessage, StrictJSONError, reply_bound_request

ACTION_SUBJECT = "agentos.v1.action"
CONTROL_SUBJECT = "agentos.v1.control"
KERNEL_RECIPIENT = "agentos.kernel"
WORKER_GROUP = "agentos-kernel"

_ACTION_KEYS = frozenset({"action", "args", "tool", "policy", "agent_id", "hints", "reply_to"})
#: ``StrictJSONError`` codes as verdict codes.
_JSON_CODES = {
    "duplicate_key": "duplicate_key",
    "non_finite_number": "non_finite_number",
    "too_deep": "args_too_deep",
}


class RequestError(ValueError):
    """The signed content is not a well-formed action request."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A parsed action request, after its signature was verified."""

    request_id: str
    agent_id: str
    action: Mapping[str, Any]
    policy: str | None
    #: Where the agent signed that the verdict must go; None from a client that binds none.
    reply_to: str | None = None


def action_content(
    action: str,
    args: Mapping[str, Any] | None = None,
    *,
    tool: str | None = None,
    policy: str | None = None,
    hints: Mapping[str, Any] | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """The JSON content of an action request.

    ``hints`` help classify a tool call: ``{"action": declared kind, "class":
    framework tool class, "annotations": {...}}``. They can only pick a
    classification or make a verdict stricter, never relax one. ``reply_to``
    is the request's reply subject (``Bus.reply_address``): signed, it is
    where the verdict goes.
    """
    content: dict[str, Any] = {"action": action, "args": dict(args or {})}
    if tool is not None:
        content["tool"] = tool
    if policy is not None:
        content["policy"] = policy
    if hints:
        content["hints"] = dict(hints)
    if reply_to is not None:
        content["reply_to"] = reply_to
    return content


async def action_request(
    bus: Bus,
    agent: AgentIdentity,
    content: Mapping[str, Any],
    *,
    timeout: float,
    subject: str = ACTION_SUBJECT,
) -> Envelope:
    """A request from ``agent`` with ``content``, for ``bus.request(envelope, timeout)``.

    The reply subject that request will carry (``Bus.reply_address``) is
    signed into the content and set as the envelope's ``reply_to``, and the
    message id is the envelope's (what a verdict answers under). Sending the
    same envelope again is a replay of it. Raises ``BusError`` (no reply
    address) and ``TypeError``/``ValueError`` (content that is no JSON).
    """
    request = Envelope(subject=subject, body=b"", deadline=time.time() + timeout)
    body, reply_to = await reply_bound_request(
        request, bus.reply_address, agent, KERNEL_RECIPIENT, content
    )
    return replace(request, body=body, reply_to=reply_to)


def parse_action(message: SignedMessage) -> ActionRequest:
    """Read the action out of a verified message; raise :class:`RequestError`."""
    try:
        content = message.json()
    except StrictJSONError as exc:
        # Duplicate keys and non-numbers would let the policy judge one reading
        # of the action while a tool runs another: refused, each with its code.
        code = _JSON_CODES.get(exc.code, "malformed_action")
        raise RequestError(code, f"action content is not strict JSON: {exc}") from None
    if not isinstance(content, dict):
        raise RequestError("malformed_action", "action content must be a JSON object")
    unknown = set(content) - _ACTION_KEYS
    if unknown:
        raise RequestError("malformed_action", f"unknown action fields: {sorted(unknown)}")
    action = content.get("action")
    if not isinstance(action, str) or not action:
        raise RequestError("malformed_action", "'action' must be a non-empty string")
    args = content.get("args", {})
    if not isinstance(args, dict):
        raise RequestError("malformed_action", "'args' must be a JSON object")
    claimed = content.get("agent_id")
    if claimed is not None and claimed != message.sender_id:
        raise RequestError("agent_mismatch", "'agent_id' differs from the signing agent")
    policy = content.get("policy")
    if policy is not None and not isinstance(policy, str):
        raise RequestError("malformed_action", "'policy' must be a string")
    reply_to = content.get("reply_to")
    if reply_to is not None and (not isinstance(reply_to, str) or not reply_to):
        raise RequestError("malformed_action", "'reply_to' must be a non-empty string")
    parsed: dict[str, Any] = {"agent_id": message.sender_id, "action": action, "args": args}
    tool = content.get("tool")
    if tool is not None:
        parsed["tool"] = tool
    hints = content.get("hints")
    if hints is not None:
        if not isinstance(hints, dict):
            raise RequestError("malformed_action", "'hints' must be a JSON object")
        parsed["hints"] = hints
    return ActionRequest(message.id, message.sender_id, parsed, policy, reply_to)


def sign_verdict(kernel: AgentIdentity, agent_id: str, verdict: Verdict) -> bytes:
    """The wire bytes of a verdict signed by ``kernel`` for ``agent_id``."""
    return SignedMessage.create(kernel, agent_id, verdict.to_dict()).to_bytes()
