"""Trust entries and where they are kept: in memory or in a JSON file shared by processes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ._errors import TrustError
from ._identity import PublicIdentity


class TrustLevel(IntEnum):
    """How far a registered agent is trusted. Unknown and revoked agents are ``NONE``.

    ``KERNEL``, ``ADMIN`` and ``REVIEWER`` are roles, not rungs: a kernel key
    signs verdicts, an admin key signs control events (revocation, rotation),
    a reviewer key signs decisions on actions held for human review. Check
    them with ``is``, never with ``>=``, so that no key can act as another.
    """

    NONE = 0
    LOW = 1
    STANDARD = 2
    HIGH = 3
    KERNEL = 4
    ADMIN = 5
    REVIEWER = 6


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


_FILE_VERSION = 1
_RACY_NS = 100_000_000


class FileTrustStore:
    """A ``TrustStore`` in one JSON file that several processes may share.

    Writes go to a temporary file renamed over the old one, under an
    exclusive ``flock`` on ``<path>.lock`` so concurrent writers do not lose
    each other's updates. Reads re-load the file whenever its inode, mtime
    or size changed, so a revocation written by one process is seen by the
    others on their next lookup. With ``recheck`` (seconds), lookups look at
    the file at most that often: a busy reader saves a ``stat`` per lookup and
    sees another process's change within ``recheck``. Writes through this
    store are seen at once. The file holds public keys only (mode 0644).
    A file that exists but cannot be read or parsed raises ``TrustError``
    (code "store_error"): failing loudly beats trusting an empty registry.
    """

    def __init__(self, path: str | os.PathLike[str], *, recheck: float = 0.0) -> None:
        if not recheck >= 0:
            raise ValueError("recheck must be a number of seconds >= 0")
        self.path = Path(path)
        self._recheck = recheck
        self._next_check = 0.0
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._entries: dict[str, TrustEntry] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._racy = False
        self._lock = threading.RLock()

    def get(self, agent_id: str) -> TrustEntry | None:
        with self._lock:
            self._refresh()
            return self._entries.get(agent_id)

    def all(self) -> list[TrustEntry]:
        with self._lock:
            self._refresh()
            return list(self._entries.values())

    def put(self, entry: TrustEntry) -> None:
        with self._lock, self._file_lock():
            self._refresh(force=True)  # never write over an update not yet seen
            entries = dict(self._entries)
            entries[entry.agent_id] = entry
            self._write(entries)
            self._entries = entries

    def _refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_check:
            return
        self._load_if_changed()
        # Only a successful look postpones the next one: an unreadable file keeps failing.
        self._next_check = now + self._recheck if self._recheck else 0.0

    def _load_if_changed(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._entries, self._stamp = {}, None
            return
        except OSError as exc:
            raise TrustError(
                f"cannot stat trust store {self.path}: {exc}", code="store_error", retryable=True
            ) from exc
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp or self._racy:
            self._entries = self._read()
            self._stamp = stamp
            # File times come from a coarse clock and inode numbers are reused, so a
            # second write within one tick could keep the same stamp. While the file
            # is that young, re-read on every lookup (git's "racy clean" rule).
            self._racy = time.time_ns() - st.st_mtime_ns < _RACY_NS

    def _read(self) -> dict[str, TrustEntry]:
        try:
            data = json.loads(self.path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise TrustError(
                f"cannot read trust store {self.path}: {exc}", code="store_error", retryable=True
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("agents"), list):
            raise TrustError(f"trust store {self.path} has no 'agents' list", code="store_error")
        entries: dict[str, TrustEntry] = {}
        for item in data["agents"]:
            if not isinstance(item, dict):
                raise TrustError(f"trust store {self.path}: bad entry", code="store_error")
            try:
                entry = TrustEntry.from_dict(item)
            except TrustError as exc:
                raise TrustError(f"trust store {self.path}: {exc}", code="store_error") from exc
            entries[entry.agent_id] = entry
        return entries

    def _write(self, entries: dict[str, TrustEntry]) -> None:
        body = json.dumps(
            {
                "version": _FILE_VERSION,
                "agents": [entries[k].to_dict() for k in sorted(entries)],
            },
            indent=1,
        ).encode("utf-8")
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
                st = os.fstat(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise TrustError(
                f"cannot write trust store {self.path}: {exc}", code="store_error", retryable=True
            ) from exc
        # rename keeps inode and mtime, so this is the stamp _refresh will see.
        self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        self._racy = True

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise TrustError(
                f"cannot open lock file {self._lock_path}: {exc}", code="store_error"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock
