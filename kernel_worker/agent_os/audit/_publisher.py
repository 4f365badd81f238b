"""Audit events onto the bus, batched and off the verdict path.

A worker answers first and audits after; one bus message per verdict would
double its bus traffic. Events queue here (bounded: a full queue makes the
worker wait rather than lose a record) and a background task publishes them
as JSON lines, up to ``max_batch`` events per message, on ``AUDIT_SUBJECT``,
waiting up to ``linger`` seconds for a batch to fill.

The worker hands over the decision itself (action, verdict, time) and the
event is built here, in the publisher's task: digesting the arguments and
encoding JSON happen while the worker waits on the network, not between a
verdict and the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeAlias

from agent_os.bus import Bus, BusError, Envelope
from agent_os.trust import AgentIdentity

from ._events import AUDIT_SUBJECT, AuditEvent
from ._signed import AuditStream

if TYPE_CHECKING:
    from agent_os.policies._types import Verdict

#: What waits to be published: an event, or the decision it will be built from.
Pending: TypeAlias = "AuditEvent | tuple[Mapping[str, object], Verdict, float]"

log = logging.getLogger("agent_os.kernel.audit")

#: Events built per turn of the event loop: a full batch must not stall the worker.
_BUILD_SLICE = 32


def encode_batch(events: list[AuditEvent]) -> bytes:
    """One bus message body: one compact JSON event per line."""
    return b"\n".join(e.to_json() for e in events)


def decode_batch(body: bytes) -> list[AuditEvent]:
    """Read a body made by :func:`encode_batch` (a single event is a batch of one)."""
    return [AuditEvent.from_json(line) for line in body.split(b"\n") if line.strip()]


class AuditPublisher:
    """Publishes queued audit events in batches until closed."""

    def __init__(
        self,
        bus: Bus,
        *,
        subject: str = AUDIT_SUBJECT,
        max_batch: int = 256,
        max_queue: int = 10_000,
        retry_delay: float = 0.5,
        linger: float = 0.02,
        signer: AgentIdentity | None = None,
    ) -> None:
        self._bus = bus
        # With the deciding kernel's key, batches are signed and numbered (see _signed).
        self._stream = AuditStream(signer) if signer is not None else None
        self._subject = subject
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Pending] = asyncio.Queue(max_queue)
        self._retry_delay = retry_delay
        self._linger = linger
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    async def put(self, event: AuditEvent) -> None:
        """Queue ``event``; waits while the queue is full."""
        await self._enqueue(event)

    async def put_decision(
        self, action: Mapping[str, object], verdict: Verdict, now: float | None = None
    ) -> None:
        """Queue the event for ``verdict`` on ``action``, to be built off the hot path."""
        await self._enqueue((action, verdict, time.time() if now is None else now))

    async def _enqueue(self, item: Pending) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="agentos-audit-publisher")
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            await self._queue.put(item)  # back-pressure: never drop a record

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # Linger briefly so a steady trickle of verdicts costs one publish
            # per batch, not one per verdict (audit may lag by ``linger``).
            if self._linger > 0 and self._queue.qsize() < self._max_batch:
                await asyncio.sleep(self._linger)
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._publish(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _publish(self, batch: list[Pending]) -> None:
        events: list[AuditEvent] = []
        for start in range(0, len(batch), _BUILD_SLICE):
            if start:
                await asyncio.sleep(0)  # let verdicts through between slices
            events.extend(_event(item) for item in batch[start : start + _BUILD_SLICE])
        body = encode_batch(events) if self._stream is None else self._stream.sign(events)
        while True:
            try:
                await self._bus.publish(Envelope(self._subject, body))
            except BusError as exc:
                if not exc.retryable:
                    log.error("audit batch of %d dropped: %s", len(batch), exc)
                    return
                log.warning("audit batch of %d not published yet: %s", len(batch), exc)
                await asyncio.sleep(self._retry_delay)
            else:
                self.published += len(batch)
                return

    async def close(self, timeout: float = 5.0) -> None:
        """Publish everything queued (waiting up to ``timeout``), then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.error("audit publisher closed with %d events unpublished", self._queue.qsize())
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None


def _event(item: Pending) -> AuditEvent:
    if isinstance(item, AuditEvent):
        return item
    action, verdict, ts = item
    return AuditEvent.from_verdict(action, verdict, now=ts)
