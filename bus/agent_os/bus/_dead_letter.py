"""Dead letters: one bounded record per message that could not be handled.

A dead letter keeps what an operator needs to understand a failure — the
stable error code, a short detail, the attempts, the original subject, the
message id and headers — and a bounded prefix of the body with the SHA-256
and size of the whole body, never the body itself. A flood of garbage (or
of large bodies) then costs the dead-letter destination at most
``DEAD_LETTER_BODY`` bytes per message, and the backends cap the
destination itself by size and age (see each backend's ``dead_letter_*``
options and docs/backends).

Every backend builds its dead letters with :func:`dead_letter`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from ._envelope import (
    ATTEMPTS_HEADER,
    ERROR_CODE_HEADER,
    ERROR_DETAIL_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    Envelope,
)

#: Bytes of the body a dead letter keeps.
DEAD_LETTER_BODY = 1024
#: Characters of the error detail and of each kept header value.
DEAD_LETTER_TEXT = 256
#: Headers of the original message a dead letter keeps (after its own).
DEAD_LETTER_HEADERS = 16
#: Header carrying the hex SHA-256 of the whole original body.
BODY_SHA256_HEADER = "x-agentos-body-sha256"
#: Header carrying the size in bytes of the whole original body.
BODY_SIZE_HEADER = "x-agentos-body-size"

_OWN = frozenset(
    {
        ERROR_CODE_HEADER,
        ERROR_DETAIL_HEADER,
        ATTEMPTS_HEADER,
        ORIGINAL_SUBJECT_HEADER,
        BODY_SHA256_HEADER,
        BODY_SIZE_HEADER,
    }
)


def dead_letter(
    envelope: Envelope, subject: str, code: str, detail: str, attempts: int
) -> Envelope:
    """``envelope`` as a bounded dead letter bound for ``subject``."""
    body = envelope.body
    headers: dict[str, str] = {}
    for name, value in envelope.headers.items():
        if len(headers) >= DEAD_LETTER_HEADERS:
            break
        if name not in _OWN:
            headers[name[:DEAD_LETTER_TEXT]] = value[:DEAD_LETTER_TEXT]
    headers[ERROR_CODE_HEADER] = code[:DEAD_LETTER_TEXT]
    headers[ERROR_DETAIL_HEADER] = detail[:DEAD_LETTER_TEXT]
    headers[ATTEMPTS_HEADER] = str(attempts)
    headers[ORIGINAL_SUBJECT_HEADER] = envelope.subject
    headers[BODY_SHA256_HEADER] = hashlib.sha256(body).hexdigest()
    headers[BODY_SIZE_HEADER] = str(len(body))
    return replace(
        envelope,
        subject=subject,
        body=body[:DEAD_LETTER_BODY],
        headers=headers,
        reply_to=None,
        correlation_id=None,
    )
