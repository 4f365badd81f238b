"""Kafka wire mapping: subject → topic, envelope ↔ record headers, error translation.

Topic names: Kafka allows ``[A-Za-z0-9._-]``, at most 249 characters. A
subject made of ``[A-Za-z0-9.-]`` is used as the topic name unchanged (every
subject the project uses, e.g. ``agentos.v1.action``). Any other character,
``_`` included, is escaped as ``_`` plus two lower-case hex digits per UTF-8
byte (``a b`` → ``a_20b``), so distinct subjects never share a topic. A name
longer than 249 characters is cut and suffixed with ``_`` plus 16 hex digits of
its SHA-256. The exact subject travels in a header, so the mapping never has
to be reversed.

Envelope → record: ``body`` is the value, ``key`` (UTF-8) the record key (so
one key's messages share a partition and keep their order), and the other
fields ride in pseudo-headers whose names start with ``:`` — ``:i`` id,
``:s`` subject, ``:r`` reply_to, ``:c`` correlation_id, ``:d`` deadline,
``:a`` delivery attempt and ``:o`` the record a redelivery stands for (both
written only on redeliveries, by the bus). User headers keep their names; a
user header name starting with ``:`` is refused, so a bus client cannot set
the attempt or origin. (A producer outside the bus with write access to a
topic can: see docs/backends/kafka.md.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NodeNotReadyError,
    RequestTimedOutError,
    SaslAuthenticationFailed,
)

from .._envelope import Envelope
from .._errors import BusError, ConnectError, MalformedEnvelope, PayloadTooLarge, auth_refused

Headers = list[tuple[str, bytes]]

_MAX_TOPIC = 249
_PLAIN = re.compile(r"[A-Za-z0-9.\-]+")
_ESCAPE = re.compile(r"[^A-Za-z0-9.\-]")

H_ID, H_SUBJECT, H_REPLY, H_CORR, H_DEADLINE = ":i", ":s", ":r", ":c", ":d"
H_ATTEMPT, H_ORIGIN = ":a", ":o"


@lru_cache(maxsize=4096)
def topic_for(subject: str, prefix: str = "") -> str:
    """The Kafka topic that carries ``subject`` (see the module docstring)."""
    if not subject:
        raise MalformedEnvelope("empty subject", code="bad_subject")
    name = subject if _PLAIN.fullmatch(subject) else _ESCAPE.sub(_escape, subject)
    name = prefix + name
    if name in (".", ".."):
        name = name.replace(".", "_2e")
    if len(name) > _MAX_TOPIC:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = f"{name[: _MAX_TOPIC - 17]}_{digest}"
    return name


def _escape(match: re.Match[str]) -> str:
    return "".join(f"_{b:02x}" for b in match.group().encode())


def to_headers(
    envelope: Envelope,
    *,
    reply_to: str | None = None,
    deadline: float | None = None,
    attempt: int = 1,
    origin: str | None = None,
) -> Headers:
    """Record headers for ``envelope``; ``reply_to``/``deadline`` override its own."""
    out: Headers = [(H_ID, envelope.id.encode()), (H_SUBJECT, envelope.subject.encode())]
    reply = reply_to if reply_to is not None else envelope.reply_to
    if reply is not None:
        out.append((H_REPLY, reply.encode()))
    if envelope.correlation_id is not None:
        out.append((H_CORR, envelope.correlation_id.encode()))
    when = deadline if deadline is not None else envelope.deadline
    if when is not None:
        out.append((H_DEADLINE, repr(when).encode()))
    if attempt != 1:
        out.append((H_ATTEMPT, str(attempt).encode()))
    if origin is not None:
        out.append((H_ORIGIN, origin.encode()))
    for name, value in envelope.headers.items():
        if name[:1] == ":":
            raise MalformedEnvelope(f"header name {name!r} is reserved (starts with ':')")
        out.append((name, value.encode()))
    return out


def from_record(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
) -> tuple[Envelope, int, str | None]:
    """The envelope, delivery attempt and origin (of a redelivery) carried by one record.

    Records written by other producers (no ``:i``/``:s``) still decode: the id
    is made from the record's position and the subject is the topic name.
    """
    msg_id = subject = reply = corr = origin = None
    deadline: float | None = None
    attempt = 1
    user: dict[str, str] = {}
    try:
        for name, raw in headers:
            if name[:1] != ":":
                user[name] = raw.decode()
            elif name == H_ID:
                msg_id = raw.decode()
            elif name == H_SUBJECT:
                subject = raw.decode()
            elif name == H_REPLY:
                reply = raw.decode()
            elif name == H_CORR:
                corr = raw.decode()
            elif name == H_DEADLINE:
                deadline = float(raw)
            elif name == H_ATTEMPT:
                attempt = int(raw)
                if attempt < 1:
                    raise ValueError(f"attempt {attempt} < 1")
            elif name == H_ORIGIN:
                origin = raw.decode()
        envelope = Envelope(
            subject=subject if subject is not None else topic,
            body=value if value is not None else b"",
            headers=user,
            id=msg_id if msg_id is not None else f"{topic}-{partition}-{offset}",
            reply_to=reply,
            correlation_id=corr,
            key=key.decode() if key is not None else None,
            deadline=deadline,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEnvelope(
            f"record {topic}/{partition}@{offset} is not an envelope: {exc}"
        ) from exc
    return envelope, attempt, origin


def decode_record(record: Any) -> tuple[Envelope, int, str | None]:
    """:func:`from_record` of an aiokafka ``ConsumerRecord``."""
    return from_record(
        record.topic, record.partition, record.offset, record.key, record.value, record.headers
    )


def correlation_of(headers: Sequence[tuple[str, bytes]]) -> bytes | None:
    """The raw ``:c`` header, found without decoding the whole envelope."""
    for name, raw in headers:
        if name == H_CORR:
            return raw
    return None


def translate(exc: BaseException, what: str) -> BusError:
    """The bus error for an aiokafka exception raised while doing ``what``."""
    if isinstance(exc, MessageSizeTooLargeError):
        return PayloadTooLarge(f"{what}: the broker refused the message size: {exc}")
    if isinstance(
        exc, KafkaConnectionError | NodeNotReadyError | KafkaTimeoutError | RequestTimedOutError
    ):
        return ConnectError(f"{what}: Kafka broker unavailable: {exc}")
    if isinstance(exc, AuthenticationFailedError | SaslAuthenticationFailed):
        return auth_refused(f"{what}: Kafka refused the credentials: {exc}")
    if isinstance(exc, KafkaError) and exc.retriable:
        return ConnectError(f"{what}: {exc}")
    return BusError(f"{what}: {exc}", code="kafka_error")


@contextmanager
def kafka_errors(what: str) -> Iterator[None]:
    """Translate aiokafka exceptions raised inside the block into bus errors."""
    try:
        yield
    except KafkaError as exc:
        raise translate(exc, what) from exc
