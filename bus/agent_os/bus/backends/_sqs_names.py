"""How subjects map onto SQS queue names (pure functions, no I/O).

SQS queue names are 1-80 characters of ``[A-Za-z0-9_-]``. A subject is
escaped injectively: letters and digits stay, ``.`` becomes ``-``, ``-``
becomes ``_h``, ``_`` becomes ``_u`` and every other character becomes ``_``
plus two lowercase hex digits per UTF-8 byte. An escape therefore never
produces ``_`` followed by ``r``, ``s`` or ``z``; those pairs mark the names
that are not a subject's work queue:

=========================================  =======================================
``<prefix>-<escaped subject>``             work queue of a subject (all groups)
``<prefix>-<escaped subject>_s<12 hex>``   one fan-out subscriber's private queue
``<prefix>-_r<client id>``                 a bus client's reply inbox
``<prefix>-<escaped, cut>_z<16 hex>``      any of the above when too long: the
                                           escaped part is cut and a SHA-256 of
                                           the subject is appended
=========================================  =======================================

The work-queue part is kept to 66 characters so that the fan-out suffix
always fits inside 80.
"""

from __future__ import annotations

import hashlib
import re
import string
from functools import lru_cache

#: Subjects under this prefix are private reply inboxes (same spelling as memory://).
INBOX_PREFIX = "_inbox."

MAX_QUEUE_NAME = 80
FANOUT_MARK = "_s"
FANOUT_TOKEN_LEN = 12
_MAX_BASE = MAX_QUEUE_NAME - len(FANOUT_MARK) - FANOUT_TOKEN_LEN
_HASH_LEN = 16
_ALNUM = frozenset(string.ascii_letters + string.digits)
_PREFIX_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_CLIENT_ID_RE = re.compile(r"[A-Za-z0-9]{1,40}")
_TOKEN_RE = re.compile(rf"[0-9a-f]{{{FANOUT_TOKEN_LEN}}}")


def valid_prefix(prefix: str) -> bool:
    """A prefix is 1-32 characters of ``[A-Za-z0-9_-]``."""
    return _PREFIX_RE.fullmatch(prefix) is not None


def escape_subject(subject: str) -> str:
    """The injective, queue-name-safe spelling of ``subject``."""
    out: list[str] = []
    for ch in subject:
        if ch in _ALNUM:
            out.append(ch)
        elif ch == ".":
            out.append("-")
        elif ch == "-":
            out.append("_h")
        elif ch == "_":
            out.append("_u")
        else:
            out.extend(f"_{b:02x}" for b in ch.encode())
    return "".join(out)


@lru_cache(maxsize=4096)
def work_queue_name(prefix: str, subject: str) -> str:
    """Queue holding the work of ``subject`` (also its retained backlog)."""
    inbox = reply_client_id(subject)
    if inbox is not None:
        return f"{prefix}-_r{inbox}"
    base = f"{prefix}-{escape_subject(subject)}"
    if len(base) <= _MAX_BASE:
        return base
    digest = hashlib.sha256(subject.encode()).hexdigest()[:_HASH_LEN]
    return f"{base[: _MAX_BASE - _HASH_LEN - 2]}_z{digest}"


def fanout_queue_prefix(prefix: str, subject: str) -> str:
    """Name prefix shared by the fan-out queues of ``subject`` (for ListQueues)."""
    return work_queue_name(prefix, subject) + FANOUT_MARK


def fanout_queue_name(prefix: str, subject: str, token: str) -> str:
    """One fan-out subscriber's queue; ``token`` is 12 lowercase hex digits."""
    if _TOKEN_RE.fullmatch(token) is None:
        raise ValueError(f"fan-out token must be {FANOUT_TOKEN_LEN} lowercase hex digits")
    return fanout_queue_prefix(prefix, subject) + token


def is_fanout_of(queue_name: str, list_prefix: str) -> bool:
    """True when ``queue_name`` (found by listing ``list_prefix``) is a fan-out queue of it."""
    return (
        queue_name.startswith(list_prefix)
        and _TOKEN_RE.fullmatch(queue_name[len(list_prefix) :]) is not None
    )


def reply_client_id(subject: str) -> str | None:
    """The client id of a reply-inbox subject, or None for any other subject."""
    if not subject.startswith(INBOX_PREFIX):
        return None
    rest = subject[len(INBOX_PREFIX) :]
    return rest if _CLIENT_ID_RE.fullmatch(rest) else None


def queue_name_of(url: str) -> str:
    """The queue name at the end of a queue URL."""
    return url.rsplit("/", 1)[-1]
