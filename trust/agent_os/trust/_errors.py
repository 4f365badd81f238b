"""Errors raised by the trust layer.

    TrustError               base; ``code`` is stable and may cross a process boundary
    ├── KeyFileError         a private key file is unsafe, unreadable or invalid ("key_file")
    └── MalformedMessage     bytes or content are not a well-formed signed message ("malformed")

Other codes carried by a plain ``TrustError``: ``"key_conflict"`` (an id is
already bound to another key), ``"unknown_agent"``, ``"revoked"``,
``"invalid_identity"`` (bad id, key or identity record), ``"reserved_domain"``
(raw ``sign`` refused data that would look like a message signature) and
``"store_error"`` (a trust store file cannot be read or written; retryable) and
``"nonce_store_unavailable"`` (a shared nonce store such as Redis did not
answer; retryable — the caller denies rather than skip the replay check).

Verification never raises for bad input: ``TrustRegistry.verify`` answers
with a ``VerificationResult`` whose ``reason`` is a stable code instead.
"""

from __future__ import annotations


class TrustError(Exception):
    """Base class of every trust error."""

    code: str = "trust_error"
    retryable: bool = False

    def __init__(
        self, message: str, *, code: str | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable


class KeyFileError(TrustError):
    """A private key file is unsafe (group/world readable, not a regular file) or invalid."""

    code = "key_file"


class MalformedMessage(TrustError):
    """Bytes are not a signed message, or a message's content is not what was asked for."""

    code = "malformed"
