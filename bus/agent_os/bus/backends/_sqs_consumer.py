"""SQS subscriptions: one long-polling task per subscription, deliveries, batched acks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal, Protocol

from .._dead_letter import dead_letter
from .._delivery import FanoutDelivery
from .._envelope import (
    ATTEMPTS_HEADER,
    ERROR_CODE_HEADER,
    ERROR_DETAIL_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    Envelope,
)
from .._errors import BusError, MalformedEnvelope
from .._lease import run_handler
from .._pool import Inflight
from .._protocol import Delivery, Handler, SubscribeOptions
from .._settle import SettleOnce
from ._sqs_client import QueueGone, SqsClient, StaleReceipt, from_body

log = logging.getLogger("agent_os.bus.sqs")

Kind = Literal["work", "fanout", "inbox"]
_BATCH = 10  # SQS's limit for ReceiveMessage and DeleteMessageBatch
_MAX_VISIBILITY = 43_200
_REDRIVE_CODE = "ack_timeout"
# Fan-out and reply messages are deleted lazily, in batches: at ten, when the queue is
# idle, or after this many seconds (well inside their visibility timeout).
_LAZY_AGE = 5.0
_PRIVATE_VISIBILITY = 60


class Host(Protocol):
    """What a subscription needs from its bus."""

    sqs: SqsClient
    wait_time: int
    drain_timeout: float

    @property
    def closed(self) -> bool: ...

    async def publish(self, envelope: Envelope) -> None: ...

    async def setup_queue(self, sub: SqsSubscription) -> str: ...

    async def release(self, sub: SqsSubscription) -> None: ...


class Deleter:
    """Coalesces the acks of one queue into ``DeleteMessageBatch`` calls.

    The first ack flushes at once; acks arriving while that call is in flight
    wait and go out together in the next batch, so a busy consumer pays one
    request per ten acks and an idle one no extra latency.
    """

    def __init__(self, sqs: SqsClient, url: str) -> None:
        self._sqs, self.url = sqs, url
        self._pending: list[tuple[str, asyncio.Future[None]]] = []
        self._flushing = False

    async def delete(self, receipt: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((receipt, future))
        if not self._flushing:
            await self._flush()
        await future

    async def _flush(self) -> None:
        self._flushing = True
        batch: list[tuple[str, asyncio.Future[None]]] = []
        try:
            while self._pending:
                batch = self._pending[:_BATCH]
                del self._pending[:_BATCH]
                try:
                    await self._sqs.delete_batch(self.url, [r for r, _ in batch])
                except BusError as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, future in batch:
                        if not future.done():
                            future.set_result(None)
                batch = []
        finally:
            self._flushing = False
            # The flushing caller was cancelled: the others' acks still go out.
            self._pending[:0] = [item for item in batch if not item[1].done()]
            if self._pending:
                asyncio.get_running_loop().create_task(self._flush())


class SqsDelivery(SettleOnce):
    """One received SQS message; ack deletes it, nack changes its visibility."""

    _sub: SqsSubscription

    def __init__(
        self, sub: SqsSubscription, envelope: Envelope, attempt: int, receipt: str, mid: str
    ) -> None:
        super().__init__(sub, envelope, attempt)
        self._receipt, self._message_id = receipt, mid

    @property
    def origin(self) -> str | None:
        return self._message_id

    def _forget(self) -> None:
        super()._forget()
        self._sub.seen.pop(self._message_id, None)

    async def _ack(self) -> None:
        await self._sub.deleter.delete(self._receipt)

    async def _redeliver(self, error_code: str, delay: float) -> None:
        seconds = min(_MAX_VISIBILITY, max(0, math.ceil(delay)))
        with contextlib.suppress(StaleReceipt):
            await self._sub.host.sqs.change_visibility(self._sub.url, self._receipt, seconds)

    async def _dead_letter(self, error_code: str, detail: str) -> None:
        await self._sub.dead_letter(self, error_code, detail)

    async def extend(self) -> None:
        """Still working: the message stays invisible for another visibility timeout."""
        if not self.settled:
            sub = self._sub
            await sub.host.sqs.change_visibility(sub.url, self._receipt, sub.visibility)

    @property
    def receipt(self) -> str:
        return self._receipt


class SqsSubscription:
    """A work-queue consumer, a fan-out subscriber or a bus's reply inbox."""

    def __init__(
        self,
        host: Host,
        subject: str,
        handler: Handler | None,
        options: SubscribeOptions,
        kind: Kind,
        on_reply: Callable[[Envelope], None] | None = None,
    ) -> None:
        self.host, self._subject, self.kind = host, subject, kind
        self._handler, self._on_reply = handler, on_reply
        self.options = options
        self.token = uuid.uuid4().hex[:12]
        self.url = ""
        self.deleter = Deleter(host.sqs, "")
        self.visibility = (
            max(1, min(_MAX_VISIBILITY, math.ceil(options.ack_wait)))
            if kind == "work"
            else _PRIVATE_VISIBILITY
        )
        self._lazy: list[str] = []
        self._lazy_since = 0.0
        self.seen: dict[str, float] = {}  # MessageId -> loop time, to drop duplicate receipts
        self.unsettled: set[SqsDelivery] = set()
        self._inflight = Inflight(options.concurrency)
        self._poller: asyncio.Task[None] | None = None
        self._active = False
        self._stopped: asyncio.Future[None] | None = None

    @property
    def subject(self) -> str:
        return self._subject

    @property
    def closed(self) -> bool:
        return self.host.closed

    @property
    def dead_letter_subject(self) -> str:
        return self.options.dead_letter_subject(self._subject)

    async def start(self) -> None:
        self._set_url(await self.host.setup_queue(self))
        self._active = True
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    def _set_url(self, url: str) -> None:
        self.url = url
        self.deleter.url = url

    async def _poll(self) -> None:
        backoff = 0.1
        while self._active:
            free = await self._inflight.room()
            if free <= 0:
                continue
            try:
                messages = await self.host.sqs.receive(
                    self.url, min(_BATCH, free), self.host.wait_time, self.visibility
                )
                backoff = 0.1
            except BusError as exc:
                log.warning("receive on %s failed (%s); retrying in %.1fs", self.url, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                if isinstance(exc, QueueGone):
                    with contextlib.suppress(BusError):
                        self._set_url(await self.host.setup_queue(self))
                continue
            if messages:
                await self._dispatch(messages)
            elif self._lazy:
                await self._flush_lazy()

    async def _dispatch(self, messages: list[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if len(self.seen) > 10_000:
            self.seen = {k: t for k, t in self.seen.items() if now - t < self.visibility}
        receipts: list[str] = []
        for msg in messages:
            receipt, mid = msg["ReceiptHandle"], msg["MessageId"]
            if self.kind != "work":
                receipts.append(receipt)
            else:
                # A second receipt of a message we hold, inside its visibility window, is
                # a duplicate from concurrent receivers, not a redelivery: drop it.
                first = self.seen.get(mid)
                if first is not None and now - first < self.visibility:
                    continue
                self.seen[mid] = now
            attempt = int(msg.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            try:
                envelope = from_body(msg["Body"])
            except (MalformedEnvelope, ValueError) as exc:
                self._inflight.spawn(self._poison(msg, attempt, str(exc)))
                continue
            if self.kind == "inbox":
                assert self._on_reply is not None
                self._on_reply(envelope)
                continue
            if self.kind == "work" and envelope.subject != self._subject:
                envelope = self._redriven(envelope, attempt)
            delivery: Delivery = (
                SqsDelivery(self, envelope, attempt, receipt, mid)
                if self.kind == "work"
                else FanoutDelivery(envelope)
            )
            self._inflight.spawn(self._run(delivery))
        if receipts:
            if not self._lazy:
                self._lazy_since = now
            self._lazy.extend(receipts)
            if len(self._lazy) >= _BATCH or now - self._lazy_since > _LAZY_AGE:
                await self._flush_lazy()

    async def _flush_lazy(self) -> None:
        """Delete received fan-out / reply messages, ten per request."""
        while self._lazy:
            batch = self._lazy[:_BATCH]
            del self._lazy[:_BATCH]
            try:
                await self.host.sqs.delete_batch(self.url, batch)
            except BusError as exc:
                log.warning("could not delete fan-out messages on %s: %s", self.url, exc)

    def _redriven(self, envelope: Envelope, attempt: int) -> Envelope:
        """A message SQS moved here by the redrive policy: it carries no error headers."""
        if ERROR_CODE_HEADER in envelope.headers:
            return replace(envelope, subject=self._subject)
        headers = dict(envelope.headers)
        headers.update(
            {
                ERROR_CODE_HEADER: _REDRIVE_CODE,
                ERROR_DETAIL_HEADER: "moved by the SQS redrive policy after maxReceiveCount",
                ATTEMPTS_HEADER: str(max(1, attempt - 1)),
                ORIGINAL_SUBJECT_HEADER: envelope.subject,
            }
        )
        return replace(envelope, subject=self._subject, headers=headers)

    async def _run(self, delivery: Delivery) -> None:
        assert self._handler is not None
        await run_handler(self._handler, delivery, self.options.ack_wait, self._subject)

    async def _poison(self, msg: dict[str, Any], attempt: int, why: str) -> None:
        """Bytes that are not an envelope: dead-letter them raw (work) or drop them."""
        log.warning("malformed message %s on %s: %s", msg.get("MessageId"), self.url, why)
        if self.kind != "work":
            return
        raw = Envelope(self._subject, str(msg.get("Body", "")).encode())
        dead = dead_letter(raw, self.dead_letter_subject, MalformedEnvelope.code, why, attempt)
        try:
            await self.host.publish(dead)
            await self.deleter.delete(msg["ReceiptHandle"])
        except BusError as exc:
            log.warning("could not dead-letter malformed message on %s: %s", self.url, exc)

    async def dead_letter(self, delivery: SqsDelivery, code: str, detail: str) -> None:
        """Publish to the dead-letter subject with the error headers, then delete."""
        envelope = delivery.envelope
        dlq = self.dead_letter_subject
        log.info("dead-lettered %s from %s to %s (%s)", envelope.id, envelope.subject, dlq, code)
        await self.host.publish(dead_letter(envelope, dlq, code, detail, delivery.attempt))
        await self.deleter.delete(delivery.receipt)

    async def unsubscribe(self) -> None:
        """Stop polling, let in-flight handlers finish (bounded), drop a private queue."""
        if self._stopped is not None:
            await asyncio.shield(self._stopped)
            return
        self._stopped = asyncio.get_running_loop().create_future()
        try:
            self._active = False
            if self._poller is not None:
                self._poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._poller
            await self._inflight.drain(self.host.drain_timeout)
            await self.host.release(self)
        finally:
            self._stopped.set_result(None)
