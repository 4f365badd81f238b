"""How envelopes and names map onto NATS: headers, stream and consumer names.

The envelope travels as a plain NATS message: ``subject`` is the NATS subject,
``body`` the payload (no extra framing) and every other field a header.
``Nats-Msg-Id`` carries ``envelope.id`` (so JetStream also de-duplicates a
re-sent message within the stream's duplicate window).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg

from .._envelope import (
    Envelope,
    new_id,
)
from .._errors import (
    BusClosed,
    BusError,
    BusTimeout,
    ConfigError,
    ConnectError,
    MalformedEnvelope,
    NoResponders,
    PayloadTooLarge,
    auth_refused,
)

#: ``envelope.id``; JetStream de-duplicates on it.
MSG_ID = "Nats-Msg-Id"
#: ``envelope.reply_to``. Core messages also set the native reply subject, but a
#: message delivered by JetStream carries the ack subject there instead.
REPLY_TO = "Agentos-Reply-To"
CORRELATION_ID = "Agentos-Correlation-Id"
KEY = "Agentos-Key"
DEADLINE = "Agentos-Deadline"
#: Delivery attempt of a message re-published after a nack on a core queue group.
ATTEMPT = "Agentos-Attempt"
#: The first delivery a re-published message stands for (its ``Delivery.origin``).
ORIGIN = "Agentos-Origin"
#: Set by the server on status messages (no responders, pull request expired, ...).
STATUS = "Status"

#: Header names the bus and the server use themselves (lower case prefixes): a
#: publisher may not set them (``NatsBus`` refuses them), and a received
#: message's own headers never include them.
RESERVED_PREFIXES = ("agentos-", "nats-")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def to_headers(envelope: Envelope) -> dict[str, str]:
    """The NATS headers carrying ``envelope``'s fields (its own headers included)."""
    headers = dict(envelope.headers)
    headers[MSG_ID] = envelope.id
    if envelope.reply_to is not None:
        headers[REPLY_TO] = envelope.reply_to
    if envelope.correlation_id is not None:
        headers[CORRELATION_ID] = envelope.correlation_id
    if envelope.key is not None:
        headers[KEY] = envelope.key
    if envelope.deadline is not None:
        headers[DEADLINE] = repr(envelope.deadline)
    return headers


def from_message(
    subject: str, body: bytes, headers: Mapping[str, str] | None, native_reply: str | None
) -> Envelope:
    """Rebuild the envelope of a received message.

    ``native_reply`` is the NATS reply subject of a core message (a raw NATS
    requester that sets no headers still gets its answer); pass ``None`` for
    JetStream deliveries, whose reply subject is the ack subject.
    """
    if not headers:
        return Envelope(subject, body, id=new_id(), reply_to=native_reply or None)
    rest = user_headers(headers)
    raw_deadline = headers.get(DEADLINE)
    try:
        deadline = float(raw_deadline) if raw_deadline is not None else None
    except ValueError as exc:
        raise MalformedEnvelope(f"bad {DEADLINE} header {raw_deadline!r}") from exc
    return Envelope(
        subject,
        body,
        headers=rest,
        id=headers.get(MSG_ID) or new_id(),
        reply_to=headers.get(REPLY_TO) or native_reply or None,
        correlation_id=headers.get(CORRELATION_ID),
        key=headers.get(KEY),
        deadline=deadline,
    )


def raw_envelope(msg: Msg) -> Envelope:
    """What can be kept of a message that is no envelope (for its dead letter)."""
    headers = msg.headers or {}
    rest = user_headers(headers)
    return Envelope(msg.subject, msg.data, headers=rest, id=headers.get(MSG_ID) or new_id())


def user_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` without the reserved ones (see ``RESERVED_PREFIXES``)."""
    return {k: v for k, v in headers.items() if not k.lower().startswith(RESERVED_PREFIXES)}


def wire_size(envelope: Envelope) -> int:
    """``envelope.size`` plus the fields that travel as extra headers."""
    extra = sum(len(v) for v in (envelope.key, envelope.reply_to, envelope.correlation_id) if v)
    return envelope.size + extra + 4 * len(envelope.headers)


def _name(prefix: str, readable: str, unique: str) -> str:
    # Readable part for operators, digest so that "a.b" and "a_b" never collide.
    digest = hashlib.blake2s(unique.encode(), digest_size=4).hexdigest()
    return f"{prefix}{_UNSAFE.sub('_', readable)[:80]}_{digest}"


def stream_name(subject: str) -> str:
    """``AGENTOS_<subject with unsafe characters as _>_<8 hex digest of subject>``."""
    return _name("AGENTOS_", subject, subject)


def consumer_name(subject: str, group: str) -> str:
    """``<group with unsafe characters as _>_<8 hex digest of subject and group>``.

    The subject is in the digest because one operator-made stream may keep
    several work subjects, each with its own consumer for the same group name.
    """
    return _name("", group, f"{subject}\0{group}")


def stream_position(ack_subject: str) -> str:
    """``<stream>:<stream sequence>`` from a JetStream ack subject: the message's place."""
    tokens = ack_subject.split(".")
    stream, seq = (tokens[2], tokens[5]) if len(tokens) == 9 else (tokens[4], tokens[7])
    int(seq)  # a ValueError for a subject that is not an ack subject
    return f"{stream}:{seq}"


def delivery_count(ack_subject: str) -> int:
    """The delivery count in a JetStream ack subject (both v1 and v2 token layouts).

    v1: ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``;
    v2 adds ``<domain>.<account hash>`` after ``ACK`` and a trailing token.
    """
    tokens = ack_subject.split(".")
    return int(tokens[4] if len(tokens) == 9 else tokens[6])


def translate(exc: BaseException, what: str) -> BusError:
    """The bus error for a nats-py exception raised while doing ``what``."""
    text = f"{what}: {type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, nats.errors.AuthorizationError):
        return auth_refused(text)
    if isinstance(exc, nats.errors.ConnectionClosedError):
        return BusClosed(text)
    if isinstance(exc, nats.errors.MaxPayloadError):
        return PayloadTooLarge(text)
    if isinstance(exc, nats.errors.NoRespondersError | nats.js.errors.NoStreamResponseError):
        return NoResponders(text)
    if isinstance(exc, nats.js.errors.ServiceUnavailableError):
        return ConnectError(f"{text} (is JetStream enabled on the server?)")
    if isinstance(exc, TimeoutError):  # nats.errors.TimeoutError subclasses it
        return BusTimeout(text)
    if isinstance(exc, nats.errors.BadSubjectError):
        return ConfigError(text, code="bad_subject")
    if isinstance(exc, nats.errors.BadHeaderError):
        return MalformedEnvelope(text)
    if isinstance(
        exc,
        OSError
        | nats.errors.NoServersError
        | nats.errors.StaleConnectionError
        | nats.errors.ConnectionReconnectingError
        | nats.errors.OutboundBufferLimitError,
    ):
        return ConnectError(text)
    if isinstance(exc, nats.js.errors.APIError):
        return BusError(text, code=f"nats_api_{exc.err_code or exc.code or 'error'}")
    return BusError(text)
