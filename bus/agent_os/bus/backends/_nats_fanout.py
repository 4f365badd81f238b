"""Core NATS subscriptions of the ``nats://`` backend (fan-out, queue groups).

Every subscription hands its messages to a :class:`~agent_os.bus._pool.Pool`
of long-lived worker tasks (at most ``concurrency``), so the hot path creates
no task per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from .._dead_letter import dead_letter
from .._delivery import FanoutDelivery
from .._envelope import Envelope, new_id
from .._errors import BusError, MalformedEnvelope
from .._lease import run_handler
from .._pool import Pool
from .._protocol import Handler, SubscribeOptions
from .._settle import SettleOnce
from ._nats_codec import ATTEMPT, ORIGIN, from_message, raw_envelope, translate
from ._nats_host import Host

log = logging.getLogger("agent_os.bus.nats")


async def server_has_seen(nc: Client) -> None:
    """Return once the server has processed everything ``nc`` sent before the call.

    ``Client.flush`` alone does not promise that: nats-py (2.16) writes its
    PING straight to the socket, ahead of commands still in its write buffer
    (a SUB, say), so the PONG can come back before the SUB is even sent. So
    first wait until the client's flusher has written the buffer, then PING.
    """
    write_buffer = getattr(nc, "_flush_pending", None)
    if write_buffer is not None:
        await write_buffer(force_flush=True)
    await nc.flush()


class FanoutSubscription:
    """``group=None``: a core NATS subscription; every subscriber gets every message."""

    #: The NATS queue group ("" for none).
    queue = ""

    def __init__(
        self, host: Host, subject: str, handler: Handler, options: SubscribeOptions
    ) -> None:
        self.host, self._subject, self._handler = host, subject, handler
        self.options = options
        self._pool: Pool[Msg] = Pool(
            options.concurrency, self._run, max_pending=host.max_pending, name=subject
        )
        self._sub: Any = None
        self.active = True

    @property
    def subject(self) -> str:
        return self._subject

    async def start(self) -> None:
        try:
            self._sub = await self.host.nc.subscribe(
                self._subject, queue=self.queue, cb=self._on_msg
            )
            # Only once the server has the SUB is a publish from another
            # connection delivered to it.
            await server_has_seen(self.host.nc)
        except nats.errors.Error as exc:
            raise translate(exc, f"subscribe to {self._subject!r}") from exc

    async def _on_msg(self, msg: Msg) -> None:
        self._pool.put(msg)

    async def _run(self, msg: Msg) -> None:
        try:
            envelope = from_message(msg.subject, msg.data, msg.headers, msg.reply)
        except MalformedEnvelope:
            log.warning("dropped a malformed message on %s", msg.subject, exc_info=True)
            return
        delivery = FanoutDelivery(envelope)
        await run_handler(self._handler, delivery, self.options.ack_wait, self._subject)

    async def unsubscribe(self) -> None:
        """Stop receiving; wait (up to the bus's drain timeout) for running handlers."""
        if self.active:
            self.active = False
            if self._sub is not None:
                with contextlib.suppress(nats.errors.Error):
                    await self._sub.unsubscribe()
            await self._hand_back(self._pool.take_pending())
        await self._pool.stop(self.host.drain_timeout)

    async def _hand_back(self, msgs: list[Msg]) -> None:
        """Messages taken but not started when unsubscribing: a fan-out copy is dropped."""

    async def abandon(self) -> None:
        return None


class _QueueDelivery(SettleOnce):
    """A core queue-group delivery. The server never redelivers it, so the bus does:
    a nack re-publishes the message (attempt + 1) for any member of the group.

    Nothing on the broker counts these deliveries, so the attempt and origin
    travel in headers that only the bus writes (``publish`` refuses them from
    callers). Its ``origin`` is a token made at the first delivery and carried
    by the bus's re-publishes: a message that claims to be a redelivery without
    a token gets a fresh one, so it counts as another message, never as a
    redelivery of one already seen.
    """

    _sub: QueueSubscription

    def __init__(
        self, sub: QueueSubscription, msg: Msg, envelope: Envelope, attempt: int, origin: str
    ) -> None:
        super().__init__(sub, envelope, attempt)
        self._msg, self._origin = msg, origin

    @property
    def origin(self) -> str | None:
        return self._origin

    async def _ack(self) -> None:
        return None  # nothing is stored: nothing to remove

    async def _redeliver(self, error_code: str, delay: float) -> None:
        await self._sub.redeliver(self._msg, self._attempt + 1, delay, self._origin)

    async def _dead_letter(self, error_code: str, detail: str) -> None:
        await self._sub.dead_letter(self._envelope, error_code, detail, self._attempt)


class QueueSubscription(FanoutSubscription):
    """A group on a core subject: a NATS queue group, the fast path without JetStream.

    Each message goes to one member. Nothing is stored: a message that a member
    takes and never settles (a crash) is gone, and a requester sees its deadline
    pass. Nacks are re-published by the bus; dead letters are kept by JetStream.
    """

    def __init__(
        self, host: Host, subject: str, group: str, handler: Handler, options: SubscribeOptions
    ) -> None:
        super().__init__(host, subject, handler, options)
        self.queue = group
        self._delayed: set[asyncio.Task[None]] = set()
        self.unsettled: set[_QueueDelivery] = set()
        self.closed = False

    async def _run(self, msg: Msg) -> None:
        attempt, origin = _attempt(msg)
        try:
            envelope = from_message(msg.subject, msg.data, msg.headers, msg.reply)
        except MalformedEnvelope as exc:
            await self.dead_letter(raw_envelope(msg), exc.code, str(exc), attempt)
            return
        delivery = _QueueDelivery(self, msg, envelope, attempt, origin or f"core:{new_id()}")
        await run_handler(self._handler, delivery, self.options.ack_wait, self._subject)

    async def redeliver(self, msg: Msg, attempt: int, delay: float, origin: str | None) -> None:
        """Publish ``msg`` again to the group's subject, as delivery ``attempt`` of ``origin``.

        With a ``delay`` the publish is scheduled and this returns at once: the
        handler's slot is free meanwhile.
        """
        if delay > 0:
            later = self._later(msg, attempt, delay, origin)
            task = asyncio.get_running_loop().create_task(later)
            self._delayed.add(task)
            task.add_done_callback(self._delayed.discard)
            return
        headers = dict(msg.headers or {})
        headers[ATTEMPT] = str(attempt)
        if origin is not None:
            headers[ORIGIN] = origin
        try:
            await self.host.nc.publish(self._subject, msg.data, reply=msg.reply, headers=headers)
        except nats.errors.Error as exc:
            raise translate(exc, f"re-publish on {self._subject!r}") from exc

    async def _later(self, msg: Msg, attempt: int, delay: float, origin: str | None) -> None:
        await asyncio.sleep(delay)
        try:
            await self.redeliver(msg, attempt, 0.0, origin)
        except BusError as exc:  # no storage to fall back on: the requester times out
            log.warning("delayed re-publish on %s lost: %s", self._subject, exc)

    async def dead_letter(self, envelope: Envelope, code: str, detail: str, attempts: int) -> None:
        dlq = self.options.dead_letter_subject(self._subject)
        await self.host.publish_dead_letter(dead_letter(envelope, dlq, code, detail, attempts))
        log.info("dead-lettered %s from %s to %s (%s)", envelope.id, self._subject, dlq, code)

    async def _hand_back(self, msgs: list[Msg]) -> None:
        """Taken but not started: pass them on to the rest of the group."""
        for msg in msgs:
            attempt, origin = _attempt(msg)
            with contextlib.suppress(BusError):
                await self.redeliver(msg, attempt, 0.0, origin)

    async def abandon(self) -> None:
        """The bus is closing: pass what the handlers left unsettled on, as a nack would."""
        for delivery in list(self.unsettled):
            with contextlib.suppress(BusError):
                await delivery.nack("ack_timeout")
        self.closed = True


def _attempt(msg: Msg) -> tuple[int, str | None]:
    """The attempt and origin a re-published message carries (1 and None for a first one)."""
    headers = msg.headers or {}
    raw = headers.get(ATTEMPT, "1")
    ok = raw.isascii() and raw.isdigit() and len(raw) < 10 and int(raw) > 0
    attempt = int(raw) if ok else 1
    return attempt, headers.get(ORIGIN) if attempt > 1 else None
