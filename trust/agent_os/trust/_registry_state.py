"""What a registry reader must not forget when it restarts.

A :class:`~agent_os.trust.FileTrustStore` refuses an older registry file and
keeps a revoked key revoked, but only for as long as it lives. Given a state
file it also remembers, across restarts, the highest ``serial`` it accepted
and every key it saw revoked:

    {"version": 1, "serial": 7,
     "revoked": {"<key fingerprint>": {"agent_id": "a", "reason": "leaked", "at": 1.7e9}}}

The file is the reader's own (mode 0600), written whole to a temporary file,
synced and renamed over the old one, so a crash leaves the old state or the
new one, never half of either. It is a local file rather than a key in the
broker: the registry is read, and refused, before the worker connects to its
bus, and the same file works on every backend. A state file that exists but
cannot be read is an error, never an empty state: forgetting would let an
older registry file undo a revocation.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import TrustError
from ._json import StrictJSONError, strict_loads

_VERSION = 1


@dataclass(frozen=True)
class Revocation:
    """A key seen revoked: whose it was, why and when."""

    agent_id: str
    reason: str | None
    at: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "reason": self.reason, "at": self.at}

    @classmethod
    def from_dict(cls, data: Any) -> Revocation:
        if not isinstance(data, dict) or not isinstance(data.get("agent_id"), str):
            raise ValueError("a revocation needs an agent_id")
        reason, at = data.get("reason"), data.get("at")
        if reason is not None and not isinstance(reason, str):
            raise ValueError("reason must be a string")
        if at is not None and type(at) not in (int, float):
            raise ValueError("at must be a number")
        return cls(data["agent_id"], reason, None if at is None else float(at))


class RegistryState:
    """The highest accepted serial and the revoked keys, kept in the file ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._saved: tuple[int, frozenset[str]] | None = None

    def _error(self, what: str) -> TrustError:
        return TrustError(f"registry state {self.path}: {what}", code="store_error")

    def load(self) -> tuple[int, dict[str, Revocation]]:
        """``(serial, {fingerprint: revocation})``; ``(-1, {})`` when there is no file yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return -1, {}
        except OSError as exc:
            raise self._error(f"cannot be read: {exc}") from exc
        try:
            data = strict_loads(raw)
            if not isinstance(data, dict) or data.get("version") != _VERSION:
                raise ValueError(f"not a version {_VERSION} state document")
            serial, revoked = data.get("serial"), data.get("revoked")
            if type(serial) is not int or serial < -1 or not isinstance(revoked, dict):
                raise ValueError("'serial' must be an integer and 'revoked' an object")
            keys = {fp: Revocation.from_dict(item) for fp, item in revoked.items()}
        except (StrictJSONError, ValueError) as exc:
            raise self._error(f"is unusable ({exc}); it is not replaced by an empty one") from None
        self._saved = (serial, frozenset(keys))
        return serial, keys

    def save(self, serial: int, revoked: dict[str, Revocation]) -> None:
        """Record ``serial`` and ``revoked`` unless they are what the file already holds."""
        current = (serial, frozenset(revoked))
        if current == self._saved:
            return
        body = {
            "version": _VERSION,
            "serial": serial,
            "revoked": {fp: r.to_dict() for fp, r in sorted(revoked.items())},
        }
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(body, indent=1).encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            _sync_dir(self.path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise TrustError(
                f"registry state {self.path} cannot be written: {exc}",
                code="store_error",
                retryable=True,
            ) from exc
        self._saved = current


def _sync_dir(path: Path) -> None:
    """Make a rename in ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
