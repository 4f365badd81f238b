"""Audit events onto the bus, batched and off the verdict path.

A worker answers first and audits after; one bus message per verdict would
double its bus traffic. Events queue here (bounded: a full queue makes the
worker wait rather than lose a record) and a background task publishes them
as JSON lines, up to ``max_batch`` events per message, on ``AUDIT_SUBJECT``,
waiting up to ``linger`` seconds for a batch to fill.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from agent_os.bus import Bus, BusError, Envelope

from ._audit import AuditEvent
from ._wire import AUDIT_SUBJECT

log = logging.getLogger("agent_os.kernel.audit")


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
    ) -> None:
        self._bus = bus
        self._subject = subject
        self._max_batch = max_batch
        self._queue: asyncio.Queue[AuditEvent] = asyncio.Queue(max_queue)
        self._retry_delay = retry_delay
        self._linger = linger
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    async def put(self, event: AuditEvent) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="agentos-audit-publisher")
        await self._queue.put(event)

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

    async def _publish(self, batch: list[AuditEvent]) -> None:
        body = encode_batch(batch)
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
