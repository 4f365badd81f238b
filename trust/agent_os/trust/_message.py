"""Signed messages and their wire format.

Wire form::

    b"AOSM1" | signature (64 bytes) | signed_bytes
    signed_bytes = header (compact JSON, ASCII, <= 4 KiB) | b"\\n" | content (raw bytes)
    header       = {"v":1,"id":...,"from":...,"to":...,"ts":...,"nonce":...,"ct":...}

The Ed25519 signature covers ``MESSAGE_DOMAIN + signed_bytes`` exactly as
they travel: a verifier checks the received bytes and reads every field from
those same bytes, so nothing is re-serialised between parsing and checking.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import MalformedMessage
from ._identity import MESSAGE_DOMAIN, AgentIdentity, valid_id
from ._json import StrictJSONError, strict_loads

MAGIC = b"AOSM1"
SIGNATURE_SIZE = 64
MAX_HEADER_SIZE = 4096

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_TEXT = "text/plain; charset=utf-8"
CONTENT_TYPE_BYTES = "application/octet-stream"

_PREFIX = len(MAGIC) + SIGNATURE_SIZE
_HEADER_KEYS = frozenset({"v", "id", "from", "to", "ts", "nonce", "ct"})
_NONCE_RE = re.compile(r"[0-9a-f]{32}")
_CT_RE = re.compile(r"[!-~][ -~]{0,126}")


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """A message signed by its sender. Build with ``create``, read with ``from_bytes``.

    ``from_bytes`` parses without trusting: only ``TrustRegistry.verify`` says
    whether the sender is known and the signature holds.
    """

    id: str
    sender_id: str
    recipient_id: str
    timestamp: float
    nonce: str
    content: bytes
    content_type: str
    signature: bytes = field(repr=False)
    signed_bytes: bytes = field(repr=False)
    # True only on instances built by create/from_bytes, whose fields were read from
    # (or written into) signed_bytes. Not an init field: dataclasses.replace resets it.
    _consistent: bool = field(default=False, init=False, repr=False, compare=False)

    @classmethod
    def create(
        cls,
        sender: AgentIdentity,
        recipient_id: str,
        content: bytes | str | Mapping[str, Any],
        *,
        now: float | None = None,
        message_id: str | None = None,
        content_type: str | None = None,
    ) -> SignedMessage:
        """Sign ``content`` from ``sender`` to ``recipient_id``.

        ``bytes`` travel as given (``application/octet-stream``), ``str`` as
        UTF-8 (``text/plain; charset=utf-8``) and a mapping as compact JSON with
        sorted keys (``application/json``); ``content_type`` overrides the type.
        """
        body, ctype = _encode_content(content)
        ctype = content_type if content_type is not None else ctype
        mid = secrets.token_hex(16) if message_id is None else message_id
        ts = float(time.time() if now is None else now)
        if not valid_id(mid):
            raise MalformedMessage(f"invalid message id {mid!r}")
        if not valid_id(recipient_id):
            raise MalformedMessage(f"invalid recipient id {recipient_id!r}")
        if not math.isfinite(ts):
            raise MalformedMessage("timestamp must be finite")
        ct_json = _KNOWN_CT_JSON.get(ctype)
        if ct_json is None:
            if _CT_RE.fullmatch(ctype) is None:
                raise MalformedMessage(f"invalid content type {ctype!r}")
            ct_json = json.dumps(ctype)
        nonce = secrets.token_hex(16)
        # Ids and nonce are validated to a quote-free alphabet and repr() of a finite
        # float is a JSON number, so only the content type needs JSON escaping.
        header = (
            f'{{"v":1,"id":"{mid}","from":"{sender.agent_id}","to":"{recipient_id}",'
            f'"ts":{ts!r},"nonce":"{nonce}","ct":{ct_json}}}'
        ).encode("ascii")
        if len(header) > MAX_HEADER_SIZE:
            raise MalformedMessage(f"header is {len(header)} bytes; at most {MAX_HEADER_SIZE}")
        signed = header + b"\n" + body
        signature = sender._sign_raw(MESSAGE_DOMAIN + signed)
        return _consistent(
            cls(
                id=mid,
                sender_id=sender.agent_id,
                recipient_id=recipient_id,
                timestamp=ts,
                nonce=nonce,
                content=body,
                content_type=ctype,
                signature=signature,
                signed_bytes=signed,
            )
        )

    def to_bytes(self) -> bytes:
        """The wire form."""
        return MAGIC + self.signature + self.signed_bytes

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> SignedMessage:
        """Parse the wire form without trusting it; raises ``MalformedMessage`` on any garbage."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MalformedMessage(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < _PREFIX + 1:
            raise MalformedMessage(f"message too short ({len(data)} bytes)")
        if data[: len(MAGIC)] != MAGIC:
            raise MalformedMessage("not a signed message (bad magic or unsupported version)")
        return _parse_signed(data[len(MAGIC) : _PREFIX], data[_PREFIX:])

    def json(self) -> Any:
        """The content decoded as strict JSON (see ``strict_loads``).

        Raises ``StrictJSONError`` (a ``MalformedMessage``) whose ``code`` says
        why: ``duplicate_key``, ``non_finite_number``, ``too_deep`` or
        ``malformed``.
        """
        try:
            return strict_loads(self.content)
        except StrictJSONError as exc:
            raise StrictJSONError(f"content of message {self.id}: {exc}", exc.code) from None

    def text(self) -> str:
        """The content decoded as UTF-8; ``MalformedMessage`` if it is not."""
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage(f"content of message {self.id} is not UTF-8") from exc


def _encode_content(content: bytes | str | Mapping[str, Any]) -> tuple[bytes, str]:
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content), CONTENT_TYPE_BYTES
    if isinstance(content, str):
        return content.encode("utf-8"), CONTENT_TYPE_TEXT
    if isinstance(content, Mapping):
        try:
            text = _CONTENT_ENCODER.encode(content)
        except (TypeError, ValueError) as exc:
            raise MalformedMessage(f"content is not JSON-serialisable: {exc}") from exc
        return text.encode("utf-8"), CONTENT_TYPE_JSON
    raise TypeError(f"content must be bytes, str or a mapping, not {type(content).__name__}")


# Built once: json.dumps / json.loads with options build a new encoder or decoder per call.
_CONTENT_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_KNOWN_CT_JSON = {
    ct: json.dumps(ct) for ct in (CONTENT_TYPE_JSON, CONTENT_TYPE_TEXT, CONTENT_TYPE_BYTES)
}


def _parse_signed(signature: bytes, signed: bytes) -> SignedMessage:
    """Read every field from ``signed``, the exact bytes the signature covers."""
    if len(signature) != SIGNATURE_SIZE:
        raise MalformedMessage(f"signature must be {SIGNATURE_SIZE} bytes")
    newline = signed.find(b"\n", 0, MAX_HEADER_SIZE + 1)
    if newline < 0:
        raise MalformedMessage(f"no header line within {MAX_HEADER_SIZE} bytes")
    head = signed[:newline]
    try:
        if not head.isascii():
            raise StrictJSONError("non-ASCII bytes", "malformed")
        header = strict_loads(head)
    except StrictJSONError as exc:
        raise MalformedMessage(f"header is not ASCII JSON: {exc}") from None
    if not isinstance(header, dict):
        raise MalformedMessage("header is not a JSON object")
    if header.keys() != _HEADER_KEYS:
        raise MalformedMessage(f"header keys must be exactly {sorted(_HEADER_KEYS)}")
    version, ts = header["v"], header["ts"]
    if type(version) is not int or version != 1:
        raise MalformedMessage(f"unsupported header version {version!r}")
    for key in ("id", "from", "to"):
        if not valid_id(header[key]):
            raise MalformedMessage(f"header field {key!r} is not a valid id")
    if type(ts) not in (int, float):
        raise MalformedMessage("header field 'ts' must be a number")
    try:
        timestamp = float(ts)
    except OverflowError:
        timestamp = math.inf
    if not math.isfinite(timestamp):
        raise MalformedMessage("header field 'ts' must be finite")
    nonce, ctype = header["nonce"], header["ct"]
    if not isinstance(nonce, str) or _NONCE_RE.fullmatch(nonce) is None:
        raise MalformedMessage("header field 'nonce' must be 32 lowercase hex digits")
    if not isinstance(ctype, str) or _CT_RE.fullmatch(ctype) is None:
        raise MalformedMessage("header field 'ct' is not a valid content type")
    return _consistent(
        SignedMessage(
            id=header["id"],
            sender_id=header["from"],
            recipient_id=header["to"],
            timestamp=timestamp,
            nonce=nonce,
            content=signed[newline + 1 :],
            content_type=ctype,
            signature=signature,
            signed_bytes=signed,
        )
    )


def _consistent(message: SignedMessage) -> SignedMessage:
    object.__setattr__(message, "_consistent", True)
    return message
