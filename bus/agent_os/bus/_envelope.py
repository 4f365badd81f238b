"""The envelope: what the bus moves.

The bus knows subjects, headers and opaque bytes. Signing, policy and the
serialisation of bodies sit above it. Backends that carry headers natively
(NATS, Kafka, SQS attributes, Redis stream fields) may map the envelope's
fields onto them; any backend may instead move the whole envelope as one
frame made by :func:`encode` and read back by :func:`decode`.
"""

from __future__ import annotations

import json
import secrets
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ._errors import MalformedEnvelope

#: Header carrying the stable error code of a dead-lettered message.
ERROR_CODE_HEADER = "x-agentos-error-code"
#: Header carrying a human-readable detail of a dead-lettered message.
ERROR_DETAIL_HEADER = "x-agentos-error-detail"
#: Header carrying how many times a dead-lettered message was delivered.
ATTEMPTS_HEADER = "x-agentos-attempts"
#: Header carrying the subject a dead-lettered message was published on.
ORIGINAL_SUBJECT_HEADER = "x-agentos-original-subject"

_FRAME_MAGIC = b"AOS1"
_HEAD = struct.Struct(">4sI")


def new_id() -> str:
    """A fresh message id (128 random bits, hex)."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message on the bus.

    ``id`` is unique per message and doubles as the correlation id of a
    request. A reply names the request it answers in ``correlation_id``.
    ``deadline`` is absolute (Unix seconds); a consumer may drop a message
    past its deadline. ``key`` orders messages on backends that promise
    per-key ordering (Kafka partitions, SQS FIFO groups).
    """

    subject: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    reply_to: str | None = None
    correlation_id: str | None = None
    key: str | None = None
    deadline: float | None = None

    def expired(self, now: float | None = None) -> bool:
        """True when the envelope carries a deadline that has passed."""
        if self.deadline is None:
            return False
        return (time.time() if now is None else now) >= self.deadline

    def reply(self, body: bytes, headers: Mapping[str, str] | None = None) -> Envelope:
        """The envelope answering this one, addressed to its ``reply_to``."""
        if self.reply_to is None:
            raise MalformedEnvelope(f"message {self.id} has no reply_to", code="no_reply_to")
        return Envelope(
            subject=self.reply_to,
            body=body,
            headers=dict(headers or {}),
            correlation_id=self.id,
            deadline=self.deadline,
        )

    def with_headers(self, **headers: str) -> Envelope:
        merged = dict(self.headers)
        merged.update(headers)
        return replace(self, headers=merged)

    @property
    def size(self) -> int:
        """Approximate size on the wire, used for payload limits."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers.items()) + 128


def encode(envelope: Envelope) -> bytes:
    """Frame an envelope as bytes: magic, meta length, JSON meta, raw body."""
    meta: dict[str, Any] = {"s": envelope.subject, "i": envelope.id}
    if envelope.headers:
        meta["h"] = dict(envelope.headers)
    if envelope.reply_to is not None:
        meta["r"] = envelope.reply_to
    if envelope.correlation_id is not None:
        meta["c"] = envelope.correlation_id
    if envelope.key is not None:
        meta["k"] = envelope.key
    if envelope.deadline is not None:
        meta["d"] = envelope.deadline
    head = json.dumps(meta, separators=(",", ":")).encode()
    return _HEAD.pack(_FRAME_MAGIC, len(head)) + head + envelope.body


def decode(frame: bytes) -> Envelope:
    """Read a frame made by :func:`encode`; raise :class:`MalformedEnvelope` otherwise."""
    try:
        magic, n = _HEAD.unpack_from(frame)
        if magic != _FRAME_MAGIC or _HEAD.size + n > len(frame):
            raise ValueError("bad frame header")
        meta = json.loads(frame[_HEAD.size : _HEAD.size + n])
        if not isinstance(meta, dict):
            raise ValueError("bad meta")
        headers = meta.get("h", {})
        if not isinstance(headers, dict):
            raise ValueError("bad headers")
        deadline = meta.get("d")
        return Envelope(
            subject=str(meta["s"]),
            body=bytes(frame[_HEAD.size + n :]),
            headers={str(k): str(v) for k, v in headers.items()},
            id=str(meta["i"]),
            reply_to=_opt_str(meta.get("r")),
            correlation_id=_opt_str(meta.get("c")),
            key=_opt_str(meta.get("k")),
            deadline=float(deadline) if deadline is not None else None,
        )
    except (ValueError, KeyError, TypeError, struct.error, RecursionError) as exc:
        raise MalformedEnvelope(f"not an envelope frame: {exc}") from exc


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
