"""Who else serves this subject: kernel workers announce themselves to each other.

A worker declared the only replica (``AGENT_OS_SINGLE_REPLICA``, on a bus
with no store its workers share) keeps nonces in its own memory. A second
replica on the same action subject and group would make replay protection
per worker again, and nothing would say so. So each worker announces itself
on :data:`PRESENCE_SUBJECT`, fan-out (which every backend carries, SQS
through a queue per subscriber), and listens to the others:

    {"instance": "9f2c...", "subject": "agentos.v1.action", "group": "agentos-kernel",
     "single_replica": true, "started": 1.7e9, "interval": 2.0, "probe": true}

* an announcement is a :class:`~agent_os.trust.SignedMessage` from the
  worker's kernel key to :data:`PRESENCE_RECIPIENT`; it counts only when it
  verifies against this worker's own kernel key (replicas usually share
  one) or a ``KERNEL`` key of the registry, and is fresh: a process that can
  merely publish on the bus cannot take a worker out of service;
* a worker announces once at start (a probe, which every peer answers at
  once) and once more as it leaves; a single-replica worker, and any worker
  that hears one, also every ``interval`` seconds; a peer not heard from for
  three of its intervals is gone;
* a peer with another kernel id on the same subject and group is logged as
  a warning naming both ids and key fingerprints (agents pinning only one
  key time out on the other's verdicts); it is no readiness failure, since a
  key rotation runs both keys for a while (see docs/deploy.md);
* a single-replica worker that hears a live peer on its subject and group
  refuses to start (``second_replica``, when heard within ``wait`` seconds of
  its start) or, later, fails readiness (``replicas``) with an error in the
  log naming the peer, until that peer is gone.

Only the single-replica worker stops serving: the others keep whatever
shared store they have. Two workers that both declare a single replica each
see the other, so the second refuses to start and the first fails readiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from agent_os.bus import Bus, BusError, Delivery, Envelope, Subscription
from agent_os.trust import (
    AgentIdentity,
    MalformedMessage,
    SignedMessage,
    TrustLevel,
    TrustRegistry,
)

from ._startup import StartupRefused

log = logging.getLogger("agent_os.kernel.presence")

PRESENCE_SUBJECT = "agentos.v1.presence"
PRESENCE_RECIPIENT = "agentos.presence"
#: A peer silent for this many of its intervals is gone.
_MISSED = 3
#: Bounds on the interval a peer claims (a forged or odd value cannot keep it alive for long).
_INTERVALS = (0.05, 60.0)


@dataclass(frozen=True)
class PresenceOptions:
    """Whether a worker announces itself, and what it claims.

    ``wait`` is how long a single-replica worker listens for peers before it
    starts consuming. The default, two intervals and 2 s, lets a peer's
    regular announcement arrive even if its answer to the probe was missed
    (an SQS publisher finds a new subscriber's queue only after its route
    cache, 1 s, expires).
    """

    single_replica: bool = False
    interval: float = 2.0
    wait: float | None = None
    subject: str = PRESENCE_SUBJECT

    def __post_init__(self) -> None:
        low, high = _INTERVALS
        if not low <= self.interval <= high:
            raise ValueError(f"presence interval must be {low}..{high} s, not {self.interval}")


@dataclass(frozen=True)
class Peer:
    """Another worker on the same action subject and group, as last heard."""

    instance: str
    kernel_id: str
    single_replica: bool
    interval: float
    heard: float  # time.monotonic() of its last announcement

    def live(self, now: float) -> bool:
        return now - self.heard <= _MISSED * self.interval


class Presence:
    """Announces one worker on ``options.subject`` and keeps the peers it hears."""

    def __init__(
        self,
        bus: Bus,
        identity: AgentIdentity,
        registry: TrustRegistry,
        *,
        subject: str,
        group: str,
        options: PresenceOptions,
    ) -> None:
        self._bus = bus
        self._identity = identity
        self._registry = registry
        self._own = TrustRegistry()
        self._own.pin(identity.public())
        self._subject, self._group = subject, group
        self._options = options
        self.instance = secrets.token_hex(8)
        self._started = time.time()
        self._peers: dict[str, Peer] = {}
        self._heard: asyncio.Event | None = None
        self._subscription: Subscription | None = None
        self._beat: asyncio.Task[None] | None = None
        self._answers: set[asyncio.Task[None]] = set()
        self.ignored = 0
        #: Peers heard serving this subject and group under another kernel id.
        self.other_kernels = 0
        self._told: set[str] = set()  # senders whose ignored announcements were logged

    @property
    def single_replica(self) -> bool:
        return self._options.single_replica

    def peers(self, now: float | None = None) -> list[Peer]:
        """The peers heard from lately, oldest announcement first."""
        now = time.monotonic() if now is None else now
        return sorted((p for p in self._peers.values() if p.live(now)), key=lambda p: p.heard)

    def conflict(self) -> str | None:
        """Why this worker must not serve alone, or None."""
        peers = self.peers()
        if not self.single_replica or not peers:
            return None
        peer = peers[0]
        also = ", which also declares itself the only replica" if peer.single_replica else ""
        return (
            f"AGENT_OS_SINGLE_REPLICA is declared, but worker {peer.kernel_id}/{peer.instance}"
            f"{also} serves {self._subject} (group {self._group}) too: each would keep its own "
            "replay memory. Run one worker, or set AGENT_OS_NONCE_URL=redis://HOST:6379/0 (or "
            "nats://HOST:4222) on every replica"
        )

    def ready(self) -> bool | str:
        """Readiness: False (with why) while a single-replica worker has a live peer."""
        return self.conflict() or True

    async def start(self) -> None:
        """Listen, announce, and (single replica) refuse to start beside a live peer."""
        self._heard = asyncio.Event()
        self._subscription = await self._bus.subscribe(self._options.subject, self._on_delivery)
        await self._announce(probe=True)
        self._beat = asyncio.get_running_loop().create_task(self._beats())
        if not self.single_replica:
            return
        wait = self._options.wait
        if wait is None:
            wait = 2 * self._options.interval + 2.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._heard.wait(), wait)
        conflict = self.conflict()
        if conflict is not None:
            await self.close()
            raise StartupRefused("second_replica", conflict)

    async def close(self) -> None:
        """Stop announcing and say so, so peers drop this worker at once. Idempotent."""
        if self._beat is None:
            return
        self._beat.cancel()
        for task in (self._beat, *self._answers):
            task.cancel()
        await asyncio.gather(self._beat, *self._answers, return_exceptions=True)
        self._beat = None
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
        with contextlib.suppress(BusError):
            await self._announce(leaving=True)

    async def _beats(self) -> None:
        while True:
            await asyncio.sleep(self._options.interval)
            # Only a single replica needs to keep hearing its peers: the others stay quiet
            # (past their probe and answers) unless one is around, so a large fleet on a
            # backend where each fan-out message is a send per subscriber (SQS) costs nothing.
            if not self.single_replica and not any(p.single_replica for p in self.peers()):
                continue
            try:
                await self._announce()
            except BusError as exc:  # the bus's own readiness says it is down
                log.warning("presence announcement not sent: %s", exc)

    async def _announce(self, *, probe: bool = False, leaving: bool = False) -> None:
        content: dict[str, Any] = {
            "instance": self.instance,
            "subject": self._subject,
            "group": self._group,
            "single_replica": self.single_replica,
            "started": self._started,
            "interval": self._options.interval,
        }
        if probe:
            content["probe"] = True
        if leaving:
            content["leaving"] = True
        body = SignedMessage.create(self._identity, PRESENCE_RECIPIENT, content).to_bytes()
        await self._bus.publish(Envelope(subject=self._options.subject, body=body))

    async def _on_delivery(self, delivery: Delivery) -> None:
        answer = self.handle(delivery.envelope.body)
        if answer and self._beat is not None:
            task = asyncio.get_running_loop().create_task(self._answer())
            self._answers.add(task)
            task.add_done_callback(self._answers.discard)

    async def _answer(self) -> None:
        try:
            await self._announce()
        except BusError as exc:
            log.warning("presence answer not sent: %s", exc)

    def handle(self, body: bytes, *, now: float | None = None) -> bool:
        """Note one announcement; True when it is a new peer's probe (answer it)."""
        try:
            message = SignedMessage.from_bytes(body)
            result = self._own.verify(message, expected_recipient=PRESENCE_RECIPIENT)
            if not result.valid:
                result = self._registry.verify(
                    message, expected_recipient=PRESENCE_RECIPIENT, record_nonce=False
                )
                if result.valid and result.trust_level is not TrustLevel.KERNEL:
                    return self._ignore(message.sender_id, "not a kernel key")
            if not result.valid:
                return self._ignore(message.sender_id, result.reason)
            content = message.json()
        except MalformedMessage as exc:
            return self._ignore("?", str(exc))
        if not isinstance(content, dict) or not isinstance(content.get("instance"), str):
            return self._ignore(message.sender_id, "no instance")
        instance = content["instance"]
        if instance == self.instance or (
            content.get("subject"),
            content.get("group"),
        ) != (self._subject, self._group):
            return False  # this worker itself, or a worker serving another subject
        if content.get("leaving") is True:
            self._peers.pop(instance, None)
            log.warning("worker %s/%s left %s", message.sender_id, instance, self._subject)
            return False
        interval = content.get("interval")
        low, high = _INTERVALS
        if (
            isinstance(interval, bool)
            or not isinstance(interval, int | float)
            or not low <= interval <= high
        ):
            return self._ignore(message.sender_id, f"interval {interval!r}")
        now = time.monotonic() if now is None else now
        known = self._peers.get(instance)
        single = content.get("single_replica") is True
        self._peers[instance] = Peer(instance, message.sender_id, single, interval, now)
        if known is None or not known.live(now):
            self._new_peer(self._peers[instance])
        return known is None and content.get("probe") is True

    def _new_peer(self, peer: Peer) -> None:
        conflict = self.conflict()
        if conflict is not None:
            log.error("not ready: %s", conflict)
        elif peer.single_replica:
            log.error(
                "worker %s/%s declares itself the only replica on %s, beside this one: it "
                "must not serve",
                peer.kernel_id, peer.instance, self._subject,
            )  # fmt: skip
        elif peer.kernel_id != self._identity.agent_id:
            self.other_kernels += 1
            entry = self._registry.get(peer.kernel_id)
            theirs = entry.identity.fingerprint if entry is not None else "?"
            # A warning, not a readiness failure: a key rotation runs both keys for a while,
            # and anyone holding a KERNEL key could otherwise take the whole fleet out.
            log.warning(
                "worker %s/%s (key %s) serves %s (group %s) beside this worker %s (key %s): "
                "agents that pin only one of the two keys drop the other's verdicts and time "
                "out. Expected only during a key rotation, after every agent pins the new key",
                peer.kernel_id, peer.instance, theirs, self._subject, self._group,
                self._identity.agent_id, self._identity.fingerprint,
            )  # fmt: skip
        else:
            log.info("worker %s/%s also serves %s", peer.kernel_id, peer.instance, self._subject)
        if self._heard is not None:
            self._heard.set()

    def _ignore(self, sender: str, why: str) -> bool:
        self.ignored += 1
        if sender not in self._told and len(self._told) < 1000:  # once per sender, not per beat
            self._told.add(sender)
            log.warning("presence announcements from %r ignored: %s", sender, why)
        return False
