"""The trust registry: who is known, how far they are trusted, and message verification."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ._errors import MalformedMessage, TrustError
from ._identity import MESSAGE_DOMAIN, AgentIdentity, PublicIdentity
from ._message import SignedMessage, _parse_signed
from ._nonces import NonceStore
from ._store import MemoryTrustStore, TrustEntry, TrustLevel, TrustStore


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of ``TrustRegistry.verify``; true only when the message is valid.

    ``reason`` is one of the stable codes ``"ok"``, ``"malformed"``,
    ``"unknown_agent"``, ``"revoked"``, ``"bad_signature"``, ``"stale"``,
    ``"from_future"``, ``"replay"``, ``"wrong_recipient"``. ``trust_level``
    and ``capabilities`` come from the registry entry (never from the
    message) and are ``NONE`` / empty unless the message is valid.
    """

    valid: bool
    reason: str
    sender_id: str | None = None
    trust_level: TrustLevel = TrustLevel.NONE
    capabilities: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return self.valid


def _fail(reason: str, sender_id: str | None = None) -> VerificationResult:
    return VerificationResult(valid=False, reason=reason, sender_id=sender_id)


class TrustRegistry:
    """Binds agent ids to public keys and verifies signed messages.

    A message is accepted only if it parses, its sender is registered and not
    revoked, the signature holds over the exact bytes received, its timestamp
    is at most ``max_age`` seconds old and at most ``max_skew`` seconds ahead,
    it is addressed to ``expected_recipient`` when one is given, and (with a
    ``NonceStore``) its nonce was not seen before. Checks run in that order.

    Agents pin kernel keys by registering them at ``TrustLevel.KERNEL``
    (``pin``) and then require ``result.trust_level == TrustLevel.KERNEL``.
    """

    def __init__(
        self,
        store: TrustStore | None = None,
        *,
        max_age: float = 30.0,
        max_skew: float = 5.0,
        nonces: NonceStore | None = None,
    ) -> None:
        if not (max_age > 0 and math.isfinite(max_age)):
            raise ValueError("max_age must be a positive number of seconds")
        if not (max_skew >= 0 and math.isfinite(max_skew)):
            raise ValueError("max_skew must be a non-negative number of seconds")
        self.store: TrustStore = MemoryTrustStore() if store is None else store
        self.max_age = max_age
        self.max_skew = max_skew
        self.nonces = nonces
        self._lock = threading.Lock()

    # -- administration ----------------------------------------------------------------------

    def register(
        self, identity: AgentIdentity | PublicIdentity, level: TrustLevel = TrustLevel.STANDARD
    ) -> None:
        """Bind ``identity.agent_id`` to its public key at ``level``.

        Registering the same id and key again updates level, name and
        capabilities. A different key for a known id raises ``TrustError``
        (code "key_conflict"): use ``rotate``. A revoked id raises
        ``TrustError`` (code "revoked").
        """
        public = identity.public() if isinstance(identity, AgentIdentity) else identity
        level = TrustLevel(level)
        with self._lock:
            current = self.store.get(public.agent_id)
            if current is None:
                self.store.put(TrustEntry(identity=public, level=level))
                return
            if current.revoked:
                raise TrustError(f"agent {public.agent_id!r} is revoked", code="revoked")
            if current.identity.public_key != public.public_key:
                raise TrustError(
                    f"agent {public.agent_id!r} is registered with key "
                    f"{current.identity.fingerprint}, not {public.fingerprint}; use rotate()",
                    code="key_conflict",
                )
            self.store.put(dataclasses.replace(current, identity=public, level=level))

    def pin(self, identity: AgentIdentity | PublicIdentity) -> None:
        """Register a kernel's public key at ``TrustLevel.KERNEL`` (the agent side's trust root)."""
        self.register(identity, TrustLevel.KERNEL)

    @classmethod
    def pinned(
        cls, keys: Iterable[AgentIdentity | PublicIdentity], level: TrustLevel = TrustLevel.KERNEL
    ) -> TrustRegistry:
        """A registry of ``keys`` alone, each at ``level``: any key it knows is a pinned one."""
        registry = cls()
        for key in keys:
            registry.register(key, level)
        return registry

    def get(self, agent_id: str) -> TrustEntry | None:
        """The entry for ``agent_id``, revoked or not, or None."""
        return self.store.get(agent_id)

    def level(self, agent_id: str) -> TrustLevel:
        """The agent's trust level; ``NONE`` if unknown or revoked."""
        entry = self.store.get(agent_id)
        if entry is None or entry.revoked:
            return TrustLevel.NONE
        return entry.level

    def revoke(self, agent_id: str, reason: str, *, now: float | None = None) -> None:
        """Revoke an agent: from now on its level is ``NONE`` and its messages fail.

        Revoking an already revoked agent keeps the first reason and time.
        An unknown id raises ``TrustError`` (code "unknown_agent").
        """
        ts = time.time() if now is None else now
        with self._lock:
            current = self.store.get(agent_id)
            if current is None:
                raise TrustError(f"agent {agent_id!r} is not registered", code="unknown_agent")
            if current.revoked:
                return
            self.store.put(
                dataclasses.replace(current, revoked=True, revoked_reason=reason, revoked_at=ts)
            )

    def rotate(self, agent_id: str, new_public_key: bytes) -> None:
        """Replace an agent's key, keeping its id, level and capabilities.

        The old key's fingerprint goes into ``key_history`` and its signatures
        fail from now on. A retired key cannot come back (code "key_conflict");
        rotating to the current key does nothing.
        """
        with self._lock:
            current = self.store.get(agent_id)
            if current is None:
                raise TrustError(f"agent {agent_id!r} is not registered", code="unknown_agent")
            if current.revoked:
                raise TrustError(f"agent {agent_id!r} is revoked", code="revoked")
            old = current.identity
            if new_public_key == old.public_key:
                return
            new = PublicIdentity(
                agent_id=old.agent_id,
                name=old.name,
                capabilities=old.capabilities,
                public_key=new_public_key,
            )
            if new.fingerprint in current.key_history:
                raise TrustError(
                    f"key {new.fingerprint} was retired for {agent_id!r}", code="key_conflict"
                )
            self.store.put(
                dataclasses.replace(
                    current, identity=new, key_history=(*current.key_history, old.fingerprint)
                )
            )

    # -- verification ------------------------------------------------------------------------

    def verify(
        self,
        message: SignedMessage | bytes,
        *,
        now: float | None = None,
        expected_recipient: str | None = None,
        record_nonce: bool = True,
    ) -> VerificationResult:
        """Judge a message (or its wire bytes). Never raises for bad input.

        With ``record_nonce=False`` the registry's ``NonceStore`` is left
        alone: the caller records the nonce itself (the kernel ``Worker``
        does, once per request, after the cheaper checks), so one nonce is
        never recorded twice and taken for its own replay.

        A ``SignedMessage`` is judged by its ``signature`` and ``signed_bytes``
        alone: its other fields must match what those bytes say, or the
        result is "malformed". Errors from the store itself (an unreadable
        ``FileTrustStore``) do propagate as ``TrustError``.
        """
        try:
            if isinstance(message, SignedMessage) and message._consistent:
                parsed = message
            elif isinstance(message, SignedMessage):
                if not (
                    isinstance(message.signature, bytes) and isinstance(message.signed_bytes, bytes)
                ):
                    return _fail("malformed")
                parsed = _parse_signed(message.signature, message.signed_bytes)
                if parsed != message:
                    return _fail("malformed")
            else:
                parsed = SignedMessage.from_bytes(message)
        except (MalformedMessage, TypeError):
            return _fail("malformed")

        sender = parsed.sender_id
        entry = self.store.get(sender)
        if entry is None:
            return _fail("unknown_agent", sender)
        if entry.revoked:
            return _fail("revoked", sender)
        if not entry.identity._verify_raw(MESSAGE_DOMAIN + parsed.signed_bytes, parsed.signature):
            return _fail("bad_signature", sender)

        ts = time.time() if now is None else now
        if not math.isfinite(ts):
            raise ValueError("now must be a finite number of seconds")
        if ts - parsed.timestamp > self.max_age:
            return _fail("stale", sender)
        if parsed.timestamp - ts > self.max_skew:
            return _fail("from_future", sender)
        if expected_recipient is not None and parsed.recipient_id != expected_recipient:
            return _fail("wrong_recipient", sender)
        if (
            record_nonce
            and self.nonces is not None
            and not self.nonces.check_and_add(
                sender, parsed.nonce, parsed.timestamp + self.max_age, ts
            )
        ):
            return _fail("replay", sender)
        return VerificationResult(
            valid=True,
            reason="ok",
            sender_id=sender,
            trust_level=entry.level,
            capabilities=entry.identity.capabilities,
        )
