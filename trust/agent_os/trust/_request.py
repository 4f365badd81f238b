"""Requests that sign where their answer goes.

A requester signs the reply subject its request will carry into the request's
content (``reply_to``), under the request's own id as the message id, so a
responder answers there, under that id, whatever ``reply_to`` a copy of the
request carries. The reply subject comes from the transport (the bus's
``reply_address``), which this package does not import: it is passed in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from ._identity import AgentIdentity
from ._message import SignedMessage


class _Request(Protocol):
    @property
    def id(self) -> str: ...


_R = TypeVar("_R", bound=_Request)


async def reply_bound_request(
    request: _R,
    reply_address: Callable[[_R], Awaitable[str]],
    sender: AgentIdentity,
    recipient_id: str,
    content: Mapping[str, Any],
) -> tuple[bytes, str]:
    """The signed body for ``request`` and the reply subject signed into it.

    ``reply_address(request)`` (``Bus.reply_address``) names the subject the
    answer will come to; it is added to ``content`` as ``reply_to`` and the
    message from ``sender`` to ``recipient_id`` carries ``request.id``, what a
    reply answers under. Raises what ``reply_address`` raises, and
    ``TypeError``/``ValueError`` for content that is no JSON.
    """
    reply_to = await reply_address(request)
    message = SignedMessage.create(
        sender, recipient_id, {**content, "reply_to": reply_to}, message_id=request.id
    )
    return message.to_bytes(), reply_to
