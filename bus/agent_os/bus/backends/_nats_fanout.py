"""Core NATS subscriptions of the ``nats://`` backend (fan-out, queue groups).

Every subscription hands its messages to a :class:`~agent_os.bus._pool.Pool`
of long-lived worker tasks (at most ``concurrency``), so the hot path creates
no task per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from .._delivery import FanoutDelivery
from .._envelope import Envelope
from .._errors import BusError, MalformedEnvelope
from .._lease import run_handler
from .._pool import Pool
from .._protocol import Handler, SubscribeOptions
from ._nats_codec import ATTEMPT, dead_letter_of, from_message, raw_envelope, translate

if TYPE_CHECKING:
    from ._nats import NatsBus

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
        self, bus: NatsBus, subject: str, handler: Handler, options: SubscribeOptions
    ) -> None:
        self._bus, self._subject, self._handler = bus, subject, handler
        self.options = options
        self._pool: Pool[Msg] = Pool(
            options.concurrency, self._run, max_pending=bus.max_pending, name=subject
        )
        self._sub: Any = None
        self.active = True

    @property
    def subject(self) -> str:
        return self._subject

    async def start(self) -> None:
        try:
            self._sub = await self._bus.nc.subscribe(
                self._subject, queue=self.queue, cb=self._on_msg
            )
            # Only once the server has the SUB is a publish from another
            # connection delivered to it.
            await server_has_seen(self._bus.nc)
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
        try:
            await self._handler(FanoutDelivery(envelope))
        except Exception:
            log.exception("handler for %s failed on message %s", self._subject, envelope.id)

    async def unsubscribe(self) -> None:
        """Stop receiving; wait (up to the bus's drain timeout) for running handlers."""
        if self.active:
            self.active = False
            if self._sub is not None:
                with contextlib.suppress(nats.errors.Error):
                    await self._sub.unsubscribe()
            await self._hand_back(self._pool.take_pending())
        await self._pool.stop(self._bus.drain_timeout)

    async def _hand_back(self, msgs: list[Msg]) -> None:
        """Messages taken but not started when unsubscribing: a fan-out copy is dropped."""

    async def abandon(self) -> None:
        return None


class _QueueDelivery:
    """A core queue-group delivery. The server never redelivers it, so the bus does:
    a nack re-publishes the message (attempt + 1) for any member of the group."""

    __slots__ = ("_msg", "_sub", "attempt", "envelope", "settled")

    def __init__(self, sub: QueueSubscription, msg: Msg, envelope: Envelope, attempt: int) -> None:
        self._sub, self._msg = sub, msg
        self.envelope, self.attempt = envelope, attempt
        self.settled = False

    @property
    def origin(self) -> str | None:
        return None  # nothing is stored: a redelivery is a new publish (attempt + 1)

    async def ack(self) -> None:
        self.settled = True

    async def nack(self, error_code: str = "nack", *, delay: float = 0.0) -> None:
        if self.settled:
            return
        self.settled = True
        if self.attempt >= self._sub.options.max_deliver:
            detail = f"not acknowledged after {self.attempt} deliveries"
            await self._sub.dead_letter(self.envelope, error_code, detail, self.attempt)
        else:
            await self._sub.redeliver(self._msg, self.attempt + 1, delay)

    async def reject(self, error_code: str, detail: str = "") -> None:
        if not self.settled:
            self.settled = True
            await self._sub.dead_letter(self.envelope, error_code, detail, self.attempt)


class QueueSubscription(FanoutSubscription):
    """A group on a core subject: a NATS queue group, the fast path without JetStream.

    Each message goes to one member. Nothing is stored: a message that a member
    takes and never settles (a crash) is gone, and a requester sees its deadline
    pass. Nacks are re-published by the bus; dead letters are kept by JetStream.
    """

    def __init__(
        self,
        bus: NatsBus,
        subject: str,
        group: str,
        handler: Handler,
        options: SubscribeOptions,
    ) -> None:
        super().__init__(bus, subject, handler, options)
        self.queue = group
        self._delayed: set[asyncio.Task[None]] = set()

    async def _run(self, msg: Msg) -> None:
        attempt = _attempt(msg)
        try:
            envelope = from_message(msg.subject, msg.data, msg.headers, msg.reply)
        except MalformedEnvelope as exc:
            await self.dead_letter(raw_envelope(msg), exc.code, str(exc), attempt)
            return
        delivery = _QueueDelivery(self, msg, envelope, attempt)
        await run_handler(self._handler, delivery, self.options.ack_wait, self._subject)

    async def redeliver(self, msg: Msg, attempt: int, delay: float) -> None:
        """Publish ``msg`` again to the group's subject, as delivery ``attempt``.

        With a ``delay`` the publish is scheduled and this returns at once: the
        handler's slot is free meanwhile.
        """
        if delay > 0:
            task = asyncio.get_running_loop().create_task(self._later(msg, attempt, delay))
            self._delayed.add(task)
            task.add_done_callback(self._delayed.discard)
            return
        headers = dict(msg.headers or {})
        headers[ATTEMPT] = str(attempt)
        try:
            await self._bus.nc.publish(self._subject, msg.data, reply=msg.reply, headers=headers)
        except nats.errors.Error as exc:
            raise translate(exc, f"re-publish on {self._subject!r}") from exc

    async def _later(self, msg: Msg, attempt: int, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self.redeliver(msg, attempt, 0.0)
        except BusError as exc:  # no storage to fall back on: the requester times out
            log.warning("delayed re-publish on %s lost: %s", self._subject, exc)

    async def dead_letter(self, envelope: Envelope, code: str, detail: str, attempts: int) -> None:
        dlq = self.options.dead_letter_subject(self._subject)
        await self._bus.publish_dead_letter(dead_letter_of(envelope, dlq, code, detail, attempts))
        log.info("dead-lettered %s from %s to %s (%s)", envelope.id, self._subject, dlq, code)

    async def _hand_back(self, msgs: list[Msg]) -> None:
        """Taken but not started: pass them on to the rest of the group."""
        for msg in msgs:
            with contextlib.suppress(BusError):
                await self.redeliver(msg, _attempt(msg), 0.0)


def _attempt(msg: Msg) -> int:
    raw = (msg.headers or {}).get(ATTEMPT, "1")
    return int(raw) if raw.isdigit() and raw != "0" else 1
