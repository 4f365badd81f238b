"""A ``TrustStore`` in a JSON file that several processes may share."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ._atomic import replace_file
from ._errors import TrustError
from ._identity import AgentIdentity, PublicIdentity
from ._registry_file import decode_document, encode_document
from ._registry_state import MAX_UNSIGNED_STEP, RegistryState, Revocation, refuse_serial
from ._store import TrustEntry

log = logging.getLogger("agent_os.trust")

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

    Until the file was read once, a file that exists but cannot be read or
    parsed raises ``TrustError`` (code "store_error"): failing loudly beats
    trusting an empty registry. After that the store keeps its **last good
    copy** when the file breaks, disappears, or goes back to an older
    ``serial`` (see ``_registry_file``), logs it loudly and names it in
    ``problem`` (a readiness check) until a good file returns. Revocation is
    sticky: a key this store has seen revoked stays revoked, whatever a later
    file says. With ``signer`` writes are signed; with ``trusted_signers``
    only a document signed by one of them is accepted. With ``state`` (a
    file of the reader's own, see ``_registry_state``) the highest serial and
    the revoked keys outlive the process: restarted, the store still refuses
    the older file, and raises ``TrustError`` ("registry_rollback") if that
    is all there is to read. A file that is not signed by a trusted signer
    may move at most ``max_step`` serials past the highest one accepted
    (code "registry_serial_jump"; see ``_registry_state``), and a running
    store adopts a ``reset_state`` made on its state file by another process.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        recheck: float = 0.0,
        signer: AgentIdentity | None = None,
        trusted_signers: Iterable[PublicIdentity] | None = None,
        state: str | os.PathLike[str] | None = None,
        max_step: int = MAX_UNSIGNED_STEP,
    ) -> None:
        if not recheck >= 0:
            raise ValueError("recheck must be a number of seconds >= 0")
        self.path = Path(path)
        self._max_step = max_step
        self._signer = signer
        self._trusted = (
            None if trusted_signers is None else {p.agent_id: p for p in trusted_signers}
        )
        #: Why the store serves its last good copy instead of the file; None when all is well.
        self.problem: str | None = None
        self._serial = -1  # the serial of the copy in use; -1 before the first good read
        self._revoked_keys: dict[str, Revocation] = {}  # key fingerprint -> its revocation
        self._state = None if state is None else RegistryState(state)
        # The highest serial accepted, by this process or (with a state file) an earlier one.
        self._floor = -1
        self._unsaved = False
        if self._state is not None:
            self._floor, self._revoked_keys = self._state.load()
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
        try:
            with self._lock, self._file_lock():
                self._refresh(force=True)  # never write over an update not yet seen
                entries = dict(self._entries)
                entries[entry.agent_id] = entry
                self._write(entries)
                self._entries = entries
        except TrustError:
            if entry.revoked and self._state is not None:
                self._hold_revocation(entry)
            raise

    def _hold_revocation(self, entry: TrustEntry) -> None:
        """A revocation the file cannot take (a read-only mount): kept here and in the state."""
        with self._lock:
            if entry.agent_id in self._entries:
                self._entries = {**self._entries, entry.agent_id: entry}
            self._remember_revoked([entry])
            self._persist()
            log.warning(
                "revocation of %s kept in the registry state %s, not in the file",
                entry.agent_id, self._state.path if self._state else None,
            )  # fmt: skip

    def sign(self, signer: AgentIdentity) -> int:
        """Write the current entries again, signed by ``signer``; the new serial."""
        with self._lock, self._file_lock():
            self._refresh(force=True)
            self._write(dict(self._entries), signer=signer)
            return self._serial

    def _refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_check:
            return
        if self._unsaved and self._persist():  # the state file is writable again
            log.warning("registry state of %s recorded again", self.path)
            self.problem = None
        if self._state is not None:
            self._adopt_state()
        self._load_if_changed()
        # Only a successful look postpones the next one: an unreadable file keeps failing.
        self._next_check = now + self._recheck if self._recheck else 0.0

    def _adopt_state(self) -> None:
        """Take what another process wrote to the state file: its revocations, and a reset."""
        assert self._state is not None
        try:
            seen = self._state.reread()
        except TrustError as exc:
            return self._keep_last_good(str(exc))
        if seen is None:
            return None
        serial, revoked, was_reset = seen
        for fingerprint, revocation in revoked.items():
            self._revoked_keys.setdefault(fingerprint, revocation)
        if was_reset:
            log.warning(
                "registry state %s was reset to serial %d (agent-os trust reset-state); "
                "reading %s again", self._state.path, serial, self.path,
            )  # fmt: skip
            self._floor, self._serial, self._stamp = serial, min(self._serial, serial), None
        else:  # another reader's mark: both keep the higher one
            self._floor = max(self._floor, serial)
        self._persist()
        return None

    def reset_state(self) -> tuple[int, int]:
        """Accept the registry file as it is now: ``(old mark, new mark)``.

        The recovery from a mark no genuine file can reach (a forged serial
        accepted before): the state file's serial becomes the file's, every
        revocation stays, and running stores sharing the state file adopt it.
        """
        if self._state is None:
            raise ValueError("reset_state needs a store with a state file")
        with self._lock:
            _, serial, _ = self._read()
            was = self._floor
            self._state.reset(serial, self._revoked_keys, was)
            self._floor, self._serial, self._stamp = serial, min(self._serial, serial), None
            log.warning(
                "registry state %s reset from serial %d to %d", self._state.path, was, serial
            )
            return was, serial

    @property
    def serial(self) -> int:
        """The serial of the copy in use (-1 before the file was first read)."""
        return self._serial

    def _load_if_changed(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._serial >= 0:
                self._stamp = None
                return self._keep_last_good(f"registry file {self.path} is missing")
            self._entries, self._stamp = {}, None
            return None
        except OSError as exc:
            error = TrustError(
                f"cannot stat trust store {self.path}: {exc}", code="store_error", retryable=True
            )
            if self._serial >= 0:
                return self._keep_last_good(str(error))
            raise error from exc
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp or self._racy:
            # File times come from a coarse clock and inode numbers are reused, so a
            # second write within one tick could keep the same stamp. While the file
            # is that young, re-read on every lookup (git's "racy clean" rule).
            self._racy = time.time_ns() - st.st_mtime_ns < _RACY_NS
            try:
                entries, serial, signed = self._read()
            except TrustError as exc:
                if self._serial < 0:
                    raise
                self._stamp = stamp  # the same broken bytes are not re-read until they change
                return self._keep_last_good(str(exc))
            self._stamp = stamp
            floor = max(self._serial, self._floor)
            refused = refuse_serial(
                self.path, serial, floor, signed=signed, max_step=self._max_step
            )
            if refused is not None:
                if self._serial < 0:  # nothing good to serve: this store cannot start
                    self._stamp = None
                    raise refused
                return self._keep_last_good(str(refused))
            self._accept(entries, serial)
        return None

    def _accept(self, entries: dict[str, TrustEntry], serial: int) -> None:
        for agent_id, entry in entries.items():
            seen = self._revoked_keys.get(entry.identity.fingerprint)
            if seen is not None and not entry.revoked:
                log.error(
                    "registry file %s lists %s as not revoked, but its key %s was revoked "
                    "(%s): it stays revoked",
                    self.path, agent_id, entry.identity.fingerprint, seen.reason,
                )  # fmt: skip
                entries[agent_id] = dataclasses.replace(
                    entry, revoked=True, revoked_reason=seen.reason, revoked_at=seen.at
                )
        self._remember_revoked(entries.values())
        self._entries, self._serial = entries, serial
        if not self._persist():
            return
        if self.problem is not None:
            log.warning("registry file %s is usable again (serial %d)", self.path, serial)
            self.problem = None

    def _remember_revoked(self, entries: Iterable[TrustEntry]) -> None:
        for entry in entries:
            if entry.revoked:
                self._revoked_keys.setdefault(
                    entry.identity.fingerprint,
                    Revocation(entry.agent_id, entry.revoked_reason, entry.revoked_at),
                )

    def _persist(self) -> bool:
        """Record the serial and revoked keys in the state file; False (a problem) if it fails."""
        self._floor = max(self._floor, self._serial)
        if self._state is None:
            return True
        try:
            self._state.save(self._floor, self._revoked_keys)
        except TrustError as exc:
            # Served as read, but a restart could forget it: not ready until it is written.
            self._unsaved = True
            self._keep_last_good(str(exc))
            return False
        self._unsaved = False
        return True

    def _keep_last_good(self, why: str) -> None:
        if why != self.problem:
            log.error("%s; serving the last good copy (serial %d)", why, self._serial)
        self.problem = why

    def _read(self) -> tuple[dict[str, TrustEntry], int, bool]:
        """The file's entries, its serial, and whether a trusted signer signed it."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}, 0, False
        except OSError as exc:
            raise TrustError(
                f"cannot read trust store {self.path}: {exc}", code="store_error", retryable=True
            ) from exc
        document = decode_document(raw, self.path, self._trusted)
        entries: dict[str, TrustEntry] = {}
        for item in document.agents:
            try:
                entry = TrustEntry.from_dict(item)
            except TrustError as exc:
                raise TrustError(f"trust store {self.path}: {exc}", code="store_error") from exc
            if entry.agent_id in entries:
                raise TrustError(
                    f"trust store {self.path}: agent {entry.agent_id!r} appears twice",
                    code="store_error",
                )
            entries[entry.agent_id] = entry
        return entries, document.serial, document.signed_by is not None

    def _write(
        self, entries: dict[str, TrustEntry], *, signer: AgentIdentity | None = None
    ) -> None:
        serial = max(self._serial, 0) + 1
        agents = [entries[k].to_dict() for k in sorted(entries)]
        body = encode_document(agents, serial, signer or self._signer)
        try:
            st = replace_file(self.path, body, 0o644)
        except OSError as exc:
            raise TrustError(
                f"cannot write trust store {self.path}: {exc}", code="store_error", retryable=True
            ) from exc
        # rename keeps inode and mtime, so this is the stamp _refresh will see.
        self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        self._racy = True
        self._serial = serial
        self._remember_revoked(entries.values())
        if self._persist():
            self.problem = None

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
