"""Control events: revocation and key rotation pushed to every worker at once.

An operator changes the shared trust registry (the durable record) and
publishes a :class:`ControlEvent` on :data:`CONTROL_SUBJECT`, signed by an
admin key. Every worker subscribes fan-out (``group=None``) and applies the
event to its own registry the moment it arrives, so a worker whose registry
is a private copy (a mounted file, an in-memory registry) stops trusting a
revoked agent within one bus hop instead of at its next reload.

An event is applied only if it verifies against the worker's registry: the
signer is registered, not revoked, at a level in ``levels`` (``ADMIN`` by
default; kernel keys sign verdicts, not control events), the signature
holds, the event is fresh, and it is addressed to :data:`CONTROL_RECIPIENT`.
Anything else is logged and ignored. Replays are harmless by construction:
revoking twice keeps the first revocation, and rotating back to a retired
key is refused by the registry. There is no un-revoke event.

A worker that was not subscribed when an event went out misses it; it still
sees the change through the shared registry. The event is the fast path, the
registry is the record.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent_os.bus import Bus, Delivery, Envelope
from agent_os.trust import (
    AgentIdentity,
    MalformedMessage,
    MemoryNonceStore,
    SignedMessage,
    TrustError,
    TrustLevel,
    TrustRegistry,
)

from ._wire import CONTROL_SUBJECT

log = logging.getLogger("agent_os.kernel.control")

CONTROL_RECIPIENT = "agentos.control"
_KINDS = frozenset({"revoke", "rotate"})


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """``kind`` is "revoke" (with ``reason``) or "rotate" (with ``public_key``)."""

    kind: str
    agent_id: str
    reason: str = ""
    public_key: bytes | None = None

    @classmethod
    def revoke(cls, agent_id: str, reason: str) -> ControlEvent:
        return cls("revoke", agent_id, reason=reason)

    @classmethod
    def rotate(cls, agent_id: str, public_key: bytes) -> ControlEvent:
        if len(public_key) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        return cls("rotate", agent_id, public_key=public_key)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "agent_id": self.agent_id}
        if self.kind == "revoke":
            out["reason"] = self.reason
        else:
            assert self.public_key is not None
            out["public_key"] = base64.b64encode(self.public_key).decode("ascii")
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ControlEvent:
        """Inverse of ``to_dict``; raises ``ValueError`` on anything else."""
        if not isinstance(data, dict) or data.get("type") not in _KINDS:
            raise ValueError("not a control event")
        agent_id = data.get("agent_id")
        if not isinstance(agent_id, str) or not agent_id:
            raise ValueError("control event without an agent_id")
        if data["type"] == "revoke":
            reason = data.get("reason", "")
            if not isinstance(reason, str):
                raise ValueError("reason must be a string")
            return cls.revoke(agent_id, reason)
        raw = data.get("public_key")
        if not isinstance(raw, str):
            raise ValueError("rotate event without a public_key")
        try:
            key = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"public_key is not base64: {exc}") from exc
        return cls.rotate(agent_id, key)

    def sign(self, admin: AgentIdentity) -> bytes:
        """The wire bytes of this event signed by ``admin``."""
        return SignedMessage.create(admin, CONTROL_RECIPIENT, self.to_dict()).to_bytes()


async def publish_control(
    bus: Bus, admin: AgentIdentity, event: ControlEvent, *, subject: str = CONTROL_SUBJECT
) -> None:
    """Sign ``event`` with ``admin`` and publish it to every worker listening on ``subject``."""
    body = event.sign(admin)
    await bus.publish(Envelope(subject=subject, body=body))


class ControlListener:
    """Verifies control events and applies them to ``registry``.

    Revocations are also kept in an in-memory overlay (:meth:`revoked`) that
    the worker consults first, so a revocation holds even when the registry's
    store cannot be written (a read-only mounted file).
    """

    def __init__(
        self, registry: TrustRegistry, *, levels: Iterable[TrustLevel] = (TrustLevel.ADMIN,)
    ) -> None:
        self._registry = registry
        self._levels = frozenset(levels)
        if not self._levels:
            raise ValueError("control events need at least one accepted signer level")
        # Same entries, own nonce memory: a nonce store shared between workers
        # would let only the first worker accept a fan-out event.
        self._verifier = TrustRegistry(
            registry.store,
            max_age=registry.max_age,
            max_skew=registry.max_skew,
            nonces=MemoryNonceStore(max_entries=10_000),
        )
        self._revoked: dict[str, str] = {}
        self.applied = 0
        self.ignored = 0

    def revoked(self, agent_id: str) -> str | None:
        """The reason ``agent_id`` was revoked by an event, or None."""
        return self._revoked.get(agent_id)

    async def __call__(self, delivery: Delivery) -> None:
        self.handle(delivery.envelope.body)

    def handle(self, body: bytes, *, now: float | None = None) -> bool:
        """Verify and apply one event; True if applied. Never raises for bad input."""
        try:
            message = SignedMessage.from_bytes(body)
        except MalformedMessage as exc:
            return self._ignore(f"unreadable: {exc}")
        result = self._verifier.verify(message, now=now, expected_recipient=CONTROL_RECIPIENT)
        if not result.valid:
            return self._ignore(f"from {message.sender_id!r}: {result.reason}")
        if result.trust_level not in self._levels:
            return self._ignore(
                f"from {message.sender_id!r}: signer level {result.trust_level.name} may not "
                "send control events"
            )
        try:
            event = ControlEvent.from_dict(message.json())
        except (ValueError, MalformedMessage) as exc:
            return self._ignore(f"from {message.sender_id!r}: {exc}")
        self._apply(event, message.sender_id)
        self.applied += 1
        return True

    def _apply(self, event: ControlEvent, signer: str) -> None:
        if event.kind == "revoke":
            self._revoked[event.agent_id] = event.reason
            log.warning("agent %s revoked by %s: %s", event.agent_id, signer, event.reason)
            try:
                self._registry.revoke(event.agent_id, event.reason)
            except TrustError as exc:
                # The overlay already denies it; the store is the operator's to fix.
                log.warning("revocation of %s not written to the registry: %s", event.agent_id, exc)
            return
        assert event.public_key is not None
        try:
            self._registry.rotate(event.agent_id, event.public_key)
        except TrustError as exc:
            log.warning("rotation of %s by %s refused: %s", event.agent_id, signer, exc)
            return
        log.warning("agent %s key rotated by %s", event.agent_id, signer)

    def _ignore(self, why: str) -> bool:
        self.ignored += 1
        log.warning("control event ignored: %s", why)
        return False
