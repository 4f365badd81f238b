"""What a registry reader must not forget when it restarts.

A :class:`~agent_os.trust.FileTrustStore` refuses an older registry file and
keeps a revoked key revoked, but only for as long as it lives. Given a state
file it also remembers, across restarts, the highest ``serial`` it accepted
and every key it saw revoked:

    {"version": 1, "serial": 7,
     "revoked": {"<key fingerprint>": {"agent_id": "a", "reason": "leaked", "at": 1.7e9}},
     "reset": {"id": "<random>", "at": 1.7e9, "from": 999, "to": 7}}

The file is the reader's own (mode 0600), written whole to a temporary file,
synced and renamed over the old one, so a crash leaves the old state or the
new one, never half of either. It is a local file rather than a key in the
broker: the registry is read, and refused, before the worker connects to its
bus, and the same file works on every backend. A state file that exists but
cannot be read is an error, never an empty state: forgetting would let an
older registry file undo a revocation.

The serial is a high-water mark only as far as it can be trusted. A signed
registry's serial is the admin's word; an unsigned one is whatever the
file's last writer put there, so :func:`refuse_serial` lets an unsigned file
move at most ``max_step`` serials at once: one forged ``"serial": 999``
would otherwise make every later, genuine file look old, in every reader
and across restarts. When a reader holds a mark that no genuine file can
reach (a forged serial accepted before, or a genuine jump refused),
``agent-os trust reset-state`` lowers it to the file's current serial,
keeps every revocation, and leaves a ``reset`` record that running readers
sharing the state file adopt on their next look (:meth:`RegistryState.reread`).
Revocations are never lowered: they are what this file exists to keep.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._atomic import replace_file
from ._errors import TrustError
from ._json import StrictJSONError, strict_loads

_VERSION = 1
#: How many serials an unsigned registry file may move forward at once.
MAX_UNSIGNED_STEP = 100


def refuse_serial(
    path: Path, serial: int, floor: int, *, signed: bool, max_step: int
) -> TrustError | None:
    """Why a registry file at ``serial`` is refused by a reader whose mark is ``floor``; or None."""
    recover = f"`agent-os trust reset-state --registry {path}` (revocations are kept)"
    if serial < floor:
        return TrustError(
            f"registry file {path} went back from serial {floor} to {serial}: an older copy is "
            f"refused (it could undo a revocation); if this file is the right one (a forged "
            f"higher serial was accepted before), accept it with {recover}",
            code="registry_rollback",
        )
    if not signed and floor >= 0 and serial - floor > max_step:
        return TrustError(
            f"registry file {path} jumped from serial {floor} to {serial}: an unsigned registry "
            f"may move at most {max_step} serials at once (a forged high serial would make every "
            f"later file look old); if the jump is genuine, accept the file with {recover}, or "
            "sign the registry (AGENT_OS_REGISTRY_SIGNERS)",
            code="registry_serial_jump",
        )
    return None


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
        self._reset: dict[str, Any] | None = None  # the last reset-state record, kept on save
        self._stamp: tuple[int, int, int] | None = None  # the file as last read or written

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
            reset = data.get("reset")
            if reset is not None and not (
                isinstance(reset, dict) and isinstance(reset.get("id"), str)
            ):
                raise ValueError("'reset' must be an object with an id")
        except (StrictJSONError, ValueError) as exc:
            raise self._error(f"is unusable ({exc}); it is not replaced by an empty one") from None
        self._saved, self._reset = (serial, frozenset(keys)), reset
        self._stamp = _stamp(self.path)
        return serial, keys

    def reread(self) -> tuple[int, dict[str, Revocation], bool] | None:
        """The file again if another process rewrote it: ``(serial, revoked, was_reset)``.

        ``was_reset`` is true when the rewrite was a ``reset-state`` this
        reader has not seen yet; None when the file is as this reader left it.
        """
        if _stamp(self.path) == self._stamp:
            return None
        seen = None if self._reset is None else self._reset["id"]
        serial, revoked = self.load()
        return serial, revoked, self._reset is not None and self._reset["id"] != seen

    def reset(self, serial: int, revoked: dict[str, Revocation], was: int) -> None:
        """Lower (or raise) the mark from ``was`` to ``serial``, keeping ``revoked``; recorded."""
        self._reset = {"id": secrets.token_hex(8), "at": time.time(), "from": was, "to": serial}
        self._saved = None
        self.save(serial, revoked)

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
        if self._reset is not None:
            body["reset"] = self._reset
        try:
            replace_file(
                self.path, json.dumps(body, indent=1).encode("utf-8"), 0o600, sync_dir=True
            )
        except OSError as exc:
            raise TrustError(
                f"registry state {self.path} cannot be written: {exc}",
                code="store_error",
                retryable=True,
            ) from exc
        self._saved = current
        self._stamp = _stamp(self.path)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
