"""Work-queue subscriptions of the ``nats://`` backend: JetStream pull consumers.

A work-queue subscription drives its durable pull consumer itself rather than
through nats-py's ``fetch``: it keeps pull requests outstanding for exactly
the free handler slots ("credit"), so a message published while a handler
slot is free is pushed at once, and a busy subscription takes nothing it
cannot start. Credit returns when messages arrive or a pull request expires
(status 408 names the undelivered count); a reconnect, a deleted consumer
(409 / 503) or a silent server (no idle heartbeat) resets it, recreating the
stream and consumer if the server lost them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from .._dead_letter import dead_letter
from .._envelope import Envelope
from .._errors import BusError, MalformedEnvelope, NotSupported
from .._lease import run_handler
from .._pool import Pool
from .._protocol import Handler, SubscribeOptions
from .._settle import SettleOnce
from ._base import adopt_group_settings
from ._nats_codec import (
    STATUS,
    consumer_name,
    delivery_count,
    from_message,
    raw_envelope,
    stream_position,
    translate,
)
from ._nats_host import Host

log = logging.getLogger("agent_os.bus.nats")

_PENDING_MESSAGES = "Nats-Pending-Messages"
_HEARTBEAT = "100"
_ERR_CONSUMER_NOT_UNIQUE = 10100  # a work-queue stream takes one consumer per subject
#: Consumer metadata key holding the group's max_deliver (JetStream's own is unlimited).
MAX_DELIVER_KEY = "agentos.max_deliver"


def _settings(config: ConsumerConfig) -> dict[str, float]:
    """The group settings an existing consumer keeps (see ``adopt_group_settings``)."""
    found: dict[str, float] = {}
    if config.ack_wait:
        found["ack_wait"] = config.ack_wait
    recorded = (config.metadata or {}).get(MAX_DELIVER_KEY, "")
    if recorded.isascii() and recorded.isdigit() and 0 < int(recorded) < 2**31:
        found["max_deliver"] = int(recorded)
    return found


class _WorkDelivery(SettleOnce):
    """One JetStream delivery of a work-queue message; settled once."""

    _sub: WorkSubscription

    def __init__(self, sub: WorkSubscription, msg: Msg, envelope: Envelope, attempt: int) -> None:
        super().__init__(sub, envelope, attempt)
        self.msg = msg

    @property
    def origin(self) -> str | None:
        try:
            return stream_position(self.msg.reply)
        except (ValueError, IndexError):
            return None

    async def _ack(self) -> None:
        await self._sub.send_ack(self.msg, b"+ACK")

    async def _redeliver(self, error_code: str, delay: float) -> None:
        await self._sub.send_nak(self.msg, delay)

    async def _dead_letter(self, error_code: str, detail: str) -> None:
        await self._sub.dead_letter(self.msg, self._envelope, error_code, detail, self._attempt)

    async def extend(self) -> None:
        """Still working: JetStream restarts the ack_wait clock on an in-progress ack."""
        if not self.settled:
            await self._sub.send_ack(self.msg, b"+WPI")


class WorkSubscription:
    """A member of a work-queue group: the group's durable pull consumer on the subject."""

    def __init__(
        self,
        host: Host,
        subject: str,
        group: str,
        handler: Handler,
        options: SubscribeOptions,
    ) -> None:
        self.host, self._subject, self._group, self._handler = host, subject, group, handler
        self.options = options
        self._consumer = consumer_name(subject, group)
        self._stream = ""
        self._next = ""
        self._inbox = host.nc.new_inbox()
        self._limit = options.concurrency
        self._floor = max(1, options.concurrency // 4)
        self._credit = 0
        self._pool: Pool[Msg] = Pool(self._limit, self._run, after=self._pull, name=subject)
        self._sub: Any = None
        self._last_seen = time.monotonic()
        self._watchdog: asyncio.TimerHandle | None = None
        self._recovery: asyncio.Task[None] | None = None
        self.unsettled: set[_WorkDelivery] = set()
        self.active = True
        self.closed = False

    @property
    def subject(self) -> str:
        return self._subject

    async def start(self) -> None:
        await self._ensure_consumer(refresh=False)
        try:
            self._sub = await self.host.nc.subscribe(self._inbox, cb=self._on_msg)
        except nats.errors.Error as exc:
            raise translate(exc, f"subscribe to {self._subject!r}") from exc
        await self._pull()
        self._arm_watchdog()

    async def _ensure_consumer(self, *, refresh: bool) -> None:
        self._stream = await self.host.ensure_stream(self._subject, refresh=refresh)
        try:
            current = await self.host.js.consumer_info(self._stream, self._consumer)
        except nats.js.errors.NotFoundError:
            current = None
        except nats.errors.Error as exc:
            raise translate(exc, f"read consumer {self._consumer} on {self._stream}") from exc
        if current is not None:
            # add_consumer would silently update the fleet's consumer to our values.
            where = f"consumer {self._consumer} on stream {self._stream}"
            self.options = adopt_group_settings(self.options, _settings(current.config), where)
        config = ConsumerConfig(
            name=self._consumer,
            durable_name=self._consumer,
            description=f"agent_os group {self._group!r} on {self._subject!r}",
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.options.ack_wait,
            # Unlimited: the bus dead-letters a message itself once its delivery count
            # passes options.max_deliver, so a failed dead-letter publish is retried
            # instead of leaving the message parked in the stream for ever.
            max_deliver=-1,
            filter_subject=self._subject,
            # ... so the consumer keeps the group's max_deliver where the bus reads it.
            metadata={MAX_DELIVER_KEY: str(self.options.max_deliver)},
        )
        try:
            await self.host.js.add_consumer(self._stream, config)
        except nats.js.errors.APIError as exc:
            if exc.err_code == _ERR_CONSUMER_NOT_UNIQUE:
                raise NotSupported(
                    f"{self._subject!r} already has a consumer group on stream {self._stream}; "
                    "the nats backend allows one group per work subject (work-queue retention)"
                ) from exc
            raise translate(exc, f"create consumer {self._consumer} on {self._stream}") from exc
        except nats.errors.Error as exc:
            raise translate(exc, f"create consumer {self._consumer} on {self._stream}") from exc
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{self._consumer}"

    async def _pull(self) -> None:
        """Ask for as many messages as there are free handler slots not yet asked for."""
        if not self.active or self._sub is None:
            return
        free = self._limit - self._credit - self._pool.load
        if free <= 0 or (self._credit > 0 and free < self._floor):
            return
        self._credit += free
        request = {
            "batch": free,
            "expires": int(self.host.pull_expires * 1e9),
            "idle_heartbeat": int(self.host.pull_heartbeat * 1e9),
        }
        try:
            await self.host.nc.publish(self._next, json.dumps(request).encode(), reply=self._inbox)
        except nats.errors.Error as exc:
            self._credit -= free
            if self.active:
                log.warning("pull request on %s failed: %r", self._subject, exc)

    async def _on_msg(self, msg: Msg) -> None:
        self._last_seen = time.monotonic()
        if msg.reply:  # a delivery; status messages come without a reply subject
            self._credit = max(0, self._credit - 1)
            if self.active:
                self._pool.put(msg)
            else:
                await self.send_nak(msg, 0.0, quiet=True)
            return
        headers = msg.headers or {}
        status = headers.get(STATUS)
        if status == _HEARTBEAT:
            return
        pending = headers.get(_PENDING_MESSAGES, "")
        self._credit = max(0, self._credit - int(pending)) if pending.isdigit() else 0
        if status == "408":  # the pull request expired: ask again
            await self._pull()
            return
        description = headers.get("Description", "")
        log.info("pull on %s got status %s %s", self._subject, status, description)
        if "Server Shutdown" in description:
            return  # the reconnect recovers
        # 409 consumer deleted, 503 no consumer, ...: re-create; the pause keeps a status
        # that repeats at once (exceeded max waiting) from spinning.
        self.recover(pause=0.1)

    def recover(self, *, restart: bool = False, pause: float = 0.0) -> None:
        """Re-create stream and consumer if needed, then pull afresh.

        ``restart`` (after a reconnect) abandons a recovery still waiting on the old
        connection.
        """
        if not self.active:
            return
        if self._recovery is not None and not self._recovery.done():
            if not restart:
                return
            self._recovery.cancel()
        self._recovery = asyncio.get_running_loop().create_task(self._recover(pause))

    async def _recover(self, pause: float) -> None:
        if pause:
            await asyncio.sleep(pause)
        delay = 0.05
        while self.active:
            try:
                await self._ensure_consumer(refresh=True)
                break
            except BusError as exc:
                log.warning("re-creating the consumer of %s failed: %s", self._subject, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self._credit = 0
        await self._pull()

    def _arm_watchdog(self) -> None:
        interval = self.host.pull_heartbeat
        self._watchdog = asyncio.get_running_loop().call_later(interval, self._check_alive)

    def _check_alive(self) -> None:
        if not self.active:
            return
        silent = time.monotonic() - self._last_seen
        if self._credit > 0 and silent > 3 * self.host.pull_heartbeat:
            log.warning("no heartbeat on %s for %.1fs: pulling afresh", self._subject, silent)
            self._last_seen = time.monotonic()
            self.recover()
        self._arm_watchdog()

    async def _run(self, msg: Msg) -> None:
        try:
            attempt = delivery_count(msg.reply)
        except (ValueError, IndexError):
            attempt = 1
        try:
            envelope = from_message(msg.subject, msg.data, msg.headers, None)
        except MalformedEnvelope as exc:
            await self.dead_letter(msg, raw_envelope(msg), exc.code, str(exc), attempt)
            return
        max_deliver = self.options.max_deliver
        if attempt > max_deliver:
            # The last allowed delivery was neither acked nor nacked within ack_wait.
            detail = f"not acknowledged after {max_deliver} deliveries"
            await self.dead_letter(msg, envelope, "ack_timeout", detail, max_deliver)
            return
        delivery = _WorkDelivery(self, msg, envelope, attempt)
        await run_handler(self._handler, delivery, self.options.ack_wait, self._subject)

    async def send_ack(self, msg: Msg, payload: bytes) -> None:
        try:
            await self.host.nc.publish(msg.reply, payload)
        except nats.errors.Error as exc:
            raise translate(exc, f"settle a message on {self._subject!r}") from exc

    async def send_nak(self, msg: Msg, delay: float, *, quiet: bool = False) -> None:
        payload = b"-NAK"
        if delay > 0:
            payload += b" " + json.dumps({"delay": int(delay * 1e9)}).encode()
        try:
            await self.send_ack(msg, payload)
        except BusError:
            if not quiet:
                raise

    async def dead_letter(
        self, msg: Msg, envelope: Envelope, code: str, detail: str, attempts: int
    ) -> None:
        """Publish to the dead-letter subject, then ack; on failure retry on redelivery."""
        dlq = self.options.dead_letter_subject(envelope.subject)
        try:
            dead = dead_letter(envelope, dlq, code, detail, attempts)
            await self.host.publish_dead_letter(dead)
        except BusError:
            log.exception("dead-lettering %s to %s failed; it will be retried", envelope.id, dlq)
            await self.send_nak(msg, 1.0, quiet=True)
            return
        log.info("dead-lettered %s from %s to %s (%s)", envelope.id, envelope.subject, dlq, code)
        await self.send_ack(msg, b"+ACK")

    async def unsubscribe(self) -> None:
        """Stop pulling, hand back what no handler started, wait for running handlers."""
        if self.active:
            self.active = False
            if self._watchdog is not None:
                self._watchdog.cancel()
            if self._recovery is not None:
                self._recovery.cancel()
            if self._sub is not None:
                with contextlib.suppress(nats.errors.Error):
                    await self._sub.unsubscribe()
            for msg in self._pool.take_pending():
                await self.send_nak(msg, 0.0, quiet=True)
        await self._pool.stop(self.host.drain_timeout)

    async def abandon(self) -> None:
        """The bus is closing: give back deliveries the handlers left unsettled."""
        for delivery in list(self.unsettled):
            delivery.take_back()
            await self.send_nak(delivery.msg, 0.0, quiet=True)
        self.closed = True
