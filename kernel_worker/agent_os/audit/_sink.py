"""The audit sink worker: audit events from the bus onto a hash-chained store.

Kernel workers publish batches of audit events (JSON lines) on
:data:`AUDIT_SUBJECT`, signed by the deciding kernel's key and numbered per
worker (see ``_signed``). Given ``kernels`` (a registry of kernel keys), the
sink stores only batches that verify, dead-letters the rest, and records a
gap in the chain where a worker's numbering jumps. The SQL stores keep each
worker's next number and open gaps in the same transaction as its events
(:class:`~agent_os.audit._store.StreamTracking`): a gap across a sink restart
is recorded too, and numbers that arrive after a later batch (a retried
append, sinks sharing a group) close their gap with a record. A store without
that is tracked in this sink's memory (lost on restart; sinks that share a
group then pass ``track_gaps=False``). Without ``kernels`` the
sink takes unsigned events only (tests, local tools). The sink consumes them
as a work-queue group, at least once: a delivery is acked only after the
store committed its events, a store error nacks it (redelivered later, then
dead-lettered after ``max_deliver``), and a body that is not audit events is
dead-lettered at once with ``malformed_audit``. A redelivered event is not chained twice: stores
deduplicate by ``event_id``.

The sink's ``head_signer`` signs chain heads only: a batch signed by that key
is dead-lettered (``audit_signer_is_sink``). A batch refused while the
registry serves its last good copy (a newer file was refused, so a kernel or
console added since is unknown here) is dead-lettered ``audit_registry_stale``
rather than as a bad signature, and the sink's readiness (``registry``) fails
until the registry is read again: the batch waits in the dead letters to be
published again, and the operator learns the chain is missing it.

Store calls are blocking; they run in a thread so the event loop keeps
serving the bus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from agent_os.bus import Bus, Delivery, Service, SubscribeOptions, Subscription, probe
from agent_os.trust import AgentIdentity, MalformedMessage, SignedMessage, TrustRegistry

from ._errors import AuditError
from ._events import AUDIT_SUBJECT, AuditEvent
from ._heads import HeadLog, SignedHead
from ._signed import GAP_FILLED_CODE, GapTracker, SignedBatch, gap_event, open_batch
from ._store import ChainedAuditStore, StreamTracking

__all__ = ["AUDIT_SINK_GROUP", "AuditSinkWorker"]

log = logging.getLogger("agent_os.kernel.audit_sink")

AUDIT_SINK_GROUP = "agentos-audit"
# The store serialises appends anyway; a few in flight keep a thread busy
# while the next batch is parsed.
_DEFAULT_OPTIONS = SubscribeOptions(concurrency=4, max_deliver=20)


def _parse(body: bytes) -> tuple[list[AuditEvent], list[str]]:
    """The events of a batch body, and an error for each line that is not one."""
    events: list[AuditEvent] = []
    errors: list[str] = []
    for n, line in enumerate(body.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            events.append(AuditEvent.from_json(line))
        except AuditError as exc:
            errors.append(f"line {n}: {exc}")
    if not events and not errors:
        errors.append("empty audit message")
    return events, errors


def _is_signed(body: bytes) -> bool:
    try:
        SignedMessage.from_bytes(body)
    except MalformedMessage:
        return False
    return True


class AuditSinkWorker(Service):
    """Consumes audit events from ``bus`` into ``store``.

    ``appended`` counts events handed to the store (a redelivered event
    counts again though the store keeps it once); ``rejected`` counts
    dead-lettered messages; ``failed`` counts store errors.
    """

    def __init__(
        self,
        bus: Bus,
        store: ChainedAuditStore,
        *,
        subject: str = AUDIT_SUBJECT,
        group: str = AUDIT_SINK_GROUP,
        options: SubscribeOptions | None = None,
        retry_delay: float = 0.5,
        kernels: TrustRegistry | None = None,
        track_gaps: bool = True,
        head_signer: AgentIdentity | None = None,
        head_log: HeadLog | None = None,
        head_interval: float = 10.0,
    ) -> None:
        super().__init__()
        self._bus = bus
        #: With a registry, only batches signed by one of its KERNEL keys are stored.
        self._kernels = kernels
        # Gaps are judged from one sink's view: several sinks sharing a group each see
        # only part of every stream, so they must not report what the others took.
        self._track_gaps = track_gaps
        self._gaps = GapTracker()  # only for a store that keeps no stream numbers
        # With a key and a log, the chain head is signed every head_interval s and at stop.
        if (head_signer is None) != (head_log is None):
            raise ValueError("a signed head needs both head_signer and head_log")
        self._head_signer, self._head_log = head_signer, head_log
        # The key that signs heads signs no batch: the sink must not write records in its name.
        self._own_key = None if head_signer is None else head_signer.public()
        self._head_interval = head_interval
        self._head_task: asyncio.Task[None] | None = None
        self._signed_seq = 0
        self._store = store
        self._subject = subject
        self._group = group
        self._options = options or _DEFAULT_OPTIONS
        self._retry_delay = retry_delay
        # Appends go to the store one at a time, in the order deliveries reached the sink
        # (asyncio locks are FIFO): batches committed out of order would look like gaps.
        self._appending = asyncio.Lock()
        self._subscription: Subscription | None = None
        self.appended = 0
        self.rejected = 0
        self.failed = 0
        self.gaps = 0

    @property
    def store(self) -> ChainedAuditStore:
        return self._store

    def health_checks(self) -> dict[str, Callable[[], Awaitable[bool | str]]]:
        """Readiness checks of the sink (see ``agent_os.observability.Readiness``)."""
        return {"bus": self._consuming, "registry": self._registry_current}

    async def _registry_current(self) -> bool | str:
        problem = self._registry_problem()
        return f"serving the last good registry: {problem}" if problem else True

    def _registry_problem(self) -> str | None:
        if self._kernels is None:
            return None
        self._kernels.store.all()  # a file store looks at its file first
        return getattr(self._kernels.store, "problem", None)

    async def _consuming(self) -> bool | str:
        if self._subscription is None or self._closing:
            return "not consuming"
        return await probe(self._bus)  # a round trip to the broker where the bus has one

    async def start(self) -> None:
        """Subscribe; returns once the sink is consuming."""
        if self._closing:
            raise RuntimeError("the audit sink was shut down")
        if self._subscription is None:
            self._subscription = await self._bus.subscribe(
                self._subject, self._handle, group=self._group, options=self._options
            )
            log.info("audit sink consuming %s as %s", self._subject, self._group)
        if self._head_log is not None and self._head_task is None:
            self._head_task = asyncio.get_running_loop().create_task(self._sign_heads())

    async def _stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        if self._head_task is not None:
            self._head_task.cancel()
            await asyncio.gather(self._head_task, return_exceptions=True)
            await self._sign_head()  # the last head, after the last append

    async def _sign_heads(self) -> None:
        while True:
            await asyncio.sleep(self._head_interval)
            try:
                await self._sign_head()
            except Exception:  # a full disk must not stop the sink; the next try may work
                log.exception("signing the chain head failed")

    async def _sign_head(self) -> None:
        assert self._head_signer is not None and self._head_log is not None
        last = await asyncio.to_thread(self._store.last)
        if last is None or last.seq == self._signed_seq:
            return
        head = SignedHead.sign(self._head_signer, last.seq, last.hash)
        await asyncio.to_thread(self._head_log.append, head)
        self._signed_seq = last.seq

    async def _handle(self, delivery: Delivery) -> None:
        if self._kernels is not None:
            try:
                batch = open_batch(delivery.envelope.body, self._kernels, sink=self._own_key)
            except AuditError as exc:
                problem = self._registry_problem() if exc.code == "bad_audit_signature" else None
                if problem is not None:
                    log.error("%s, while the registry serves its last good copy: %s", exc, problem)
                    await self._reject(delivery, "audit_registry_stale", f"{exc}; {problem}")
                    return
                await self._reject(delivery, exc.code, str(exc))
                return
            if await self._store_events(delivery, lambda: self._append_batch(batch)):
                await delivery.ack()
            return
        if _is_signed(delivery.envelope.body):
            detail = "a signed audit batch, and this sink has no kernel registry to verify it"
            await self._reject(delivery, "unverified_audit", detail)
            return
        events, errors = _parse(delivery.envelope.body)
        if events and not await self._store_events(delivery, lambda: self._append(events)):
            return
        if errors:
            # The good events are stored; the message is kept whole as evidence.
            await self._reject(delivery, "malformed_audit", "; ".join(errors)[:2000])
            return
        await delivery.ack()

    def _append(self, events: list[AuditEvent]) -> int:
        return len(self._store.append_many(events))

    def _append_batch(self, batch: SignedBatch) -> int:
        """Store a numbered batch after the gap record before it, if any (in a thread)."""
        if not self._track_gaps:
            return self._append(batch.events)
        if isinstance(self._store, StreamTracking):
            records, missing = self._store.append_batch(batch.stream, batch.first, batch.events)
            stored = len(records)
            for record in records[: len(records) - len(batch.events)]:
                if record.event.code == GAP_FILLED_CODE:
                    log.warning("%s: that gap is closed", record.event.reason)
        else:
            missing = self._gaps.see(batch)
            gap = [] if missing is None else [gap_event(batch.stream, missing)]
            stored = len(self._store.append_many([*gap, *batch.events]))
        if missing is not None:
            log.error("audit stream %s: events %d..%d missing", batch.stream, *missing)
            self.gaps += 1
        return stored

    async def _store_events(self, delivery: Delivery, append: Callable[[], int]) -> bool:
        """Run ``append`` in a thread; False when the delivery was nacked or dead-lettered."""
        try:
            async with self._appending:
                stored = await asyncio.to_thread(append)
        except AuditError as exc:
            if not exc.retryable:
                # e.g. a non-finite timestamp: the same bytes fail the same way.
                await self._reject(delivery, exc.code, str(exc))
                return False
            self.failed += 1
            log.warning("audit message %s not stored: %s", delivery.envelope.id, exc)
            await delivery.nack(exc.code, delay=self._retry_delay)
            return False
        except Exception:
            self.failed += 1
            log.exception("audit message %s: store failed", delivery.envelope.id)
            await delivery.nack("audit_store", delay=self._retry_delay)
            return False
        self.appended += stored  # after the await: handlers run concurrently
        return True

    async def _reject(self, delivery: Delivery, code: str, detail: str) -> None:
        self.rejected += 1
        log.warning("audit message %s dead-lettered (%s): %s", delivery.envelope.id, code, detail)
        await delivery.reject(code, detail)
