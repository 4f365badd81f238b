"""Trust entries, the ``TrustStore`` protocol, and the in-memory store.

The store in a JSON file shared by processes is ``_file_store.FileTrustStore``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol, runtime_checkable

from ._errors import TrustError
from ._identity import PublicIdentity


class TrustLevel(IntEnum):
    """How far a registered agent is trusted. Unknown and revoked agents are ``NONE``.

    ``KERNEL``, ``ADMIN``, ``REVIEWER`` and ``AUDITOR`` are roles, not rungs:
    a kernel key signs verdicts, an admin key signs control events
    (revocation, rotation), a reviewer key signs decisions on actions held
    for human review, an auditor key (the audit sink's) signs chain heads and
    nothing else. Check them with ``is``, never with ``>=``, so that no key
    can act as another.
    """

    NONE = 0
    LOW = 1
    STANDARD = 2
    HIGH = 3
    KERNEL = 4
    ADMIN = 5
    REVIEWER = 6
    AUDITOR = 7


@dataclass(frozen=True)
class TrustEntry:
    """One agent's record in a trust store."""

    identity: PublicIdentity
    level: TrustLevel = TrustLevel.STANDARD
    revoked: bool = False
    revoked_reason: str | None = None
    revoked_at: float | None = None
    key_history: tuple[str, ...] = ()

    @property
    def agent_id(self) -> str:
        return self.identity.agent_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            **self.identity.to_dict(),
            "level": self.level.name,
            "revoked": self.revoked,
            "revoked_reason": self.revoked_reason,
            "revoked_at": self.revoked_at,
            "key_history": list(self.key_history),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustEntry:
        """Inverse of ``to_dict``; raises ``TrustError`` (code "invalid_identity")."""
        identity = PublicIdentity.from_dict(data)
        try:
            level = TrustLevel[data.get("level", "STANDARD")]
            revoked_at = data.get("revoked_at")
            reason = data.get("revoked_reason")
            history = data.get("key_history", [])
            if not isinstance(data.get("revoked", False), bool):
                raise TypeError("revoked must be a boolean")
            if revoked_at is not None and type(revoked_at) not in (int, float):
                raise TypeError("revoked_at must be a number")
            if reason is not None and not isinstance(reason, str):
                raise TypeError("revoked_reason must be a string")
            if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
                raise TypeError("key_history must be a list of strings")
        except (KeyError, TypeError) as exc:
            raise TrustError(
                f"invalid trust entry for {identity.agent_id!r}: {exc!r}", code="invalid_identity"
            ) from exc
        return cls(
            identity=identity,
            level=level,
            revoked=data.get("revoked", False),
            revoked_reason=reason,
            revoked_at=None if revoked_at is None else float(revoked_at),
            key_history=tuple(history),
        )


@runtime_checkable
class TrustStore(Protocol):
    """Where a ``TrustRegistry`` keeps its entries."""

    def get(self, agent_id: str) -> TrustEntry | None:
        """The entry for ``agent_id``, or None."""
        ...

    def put(self, entry: TrustEntry) -> None:
        """Insert or replace the entry for ``entry.agent_id``."""
        ...

    def all(self) -> list[TrustEntry]:
        """Every entry."""
        ...


class MemoryTrustStore:
    """A process-local ``TrustStore``."""

    def __init__(self) -> None:
        self._entries: dict[str, TrustEntry] = {}
        self._lock = threading.Lock()

    def get(self, agent_id: str) -> TrustEntry | None:
        return self._entries.get(agent_id)

    def put(self, entry: TrustEntry) -> None:
        with self._lock:
            self._entries[entry.agent_id] = entry

    def all(self) -> list[TrustEntry]:
        with self._lock:
            return list(self._entries.values())
