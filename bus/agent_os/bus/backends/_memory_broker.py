"""The in-process broker behind ``memory://``: routing, work queues, redelivery.

One :class:`Broker` holds, per subject, the fan-out subscribers and the work
queues (one per group). It runs on one event loop; a named broker shared by
several ``Bus`` objects must be used from a single loop.

Semantics mirror the real brokers:

* fan-out consumers get every message routed after they attached, through a
  bounded pending buffer (``max_pending``; when a slow consumer overflows it
  the oldest message is dropped and logged, as core NATS does);
* a work queue keeps its backlog until a consumer takes a message; each
  message is in flight at one consumer at a time, and at most one message per
  ``key`` is in flight, so a key's messages are handled in publish order;
* messages routed to a subject that has no group yet are retained (bounded by
  ``max_retained``) and adopted by the first group that joins; reply inboxes
  are never retained.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._dead_letter import dead_letter
from .._delivery import FanoutDelivery
from .._envelope import (
    Envelope,
)
from .._lease import run_handler
from .._pool import Inflight
from .._protocol import Handler, SubscribeOptions
from .._settle import SettleOnce
from ._base import GROUP_SETTINGS, adopt_group_settings

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger("agent_os.bus.memory")

#: Subjects under this prefix are private reply inboxes: never retained.
INBOX_PREFIX = "_inbox."


@dataclass(eq=False)
class _Message:
    envelope: Envelope
    seq: int
    deliveries: int = 0
    not_before: float = 0.0  # loop.time() before which it is not redelivered


class _WorkDelivery(SettleOnce):
    """One delivery of a work-queue message; settled exactly once."""

    _sub: Consumer

    def __init__(self, queue: WorkQueue, msg: _Message, consumer: Consumer) -> None:
        super().__init__(consumer, msg.envelope, msg.deliveries)
        self._queue, self._msg = queue, msg
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(consumer.options.ack_wait, self.expire, "ack_timeout")

    @property
    def origin(self) -> str | None:
        return f"{self._queue.subject}#{self._msg.seq}"

    def _forget(self) -> None:
        # Also stale once redelivered after ack_wait: expire() settled it.
        self._timer.cancel()
        super()._forget()

    async def _ack(self) -> None:
        self._queue.done(self._msg)

    async def _redeliver(self, error_code: str, delay: float) -> None:
        self._queue.retry(self._msg, error_code, delay, self._sub.options)

    async def _dead_letter(self, error_code: str, detail: str) -> None:
        self._queue.dead_letter(self._msg, error_code, detail, self._sub.options)

    async def extend(self) -> None:
        """Still working: the ack_wait clock starts again."""
        if not self.settled:
            self._timer.cancel()
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._sub.options.ack_wait, self.expire, "ack_timeout")

    def expire(self, error_code: str) -> None:
        """The consumer is presumed dead: redeliver (or dead-letter)."""
        if self.settled:
            return
        self.take_back()
        self._queue.retry(self._msg, error_code, 0.0, self._sub.options)


class Consumer:
    """A subscription: fan-out (``queue is None``) or one member of a work queue."""

    def __init__(
        self,
        broker: Broker,
        subject: str,
        handler: Handler,
        group: str | None,
        options: SubscribeOptions,
        *,
        max_pending: int,
        grace: float,
    ) -> None:
        self.broker, self._subject, self.handler = broker, subject, handler
        self.group, self.options = group, options
        self.queue: WorkQueue | None = None
        self.active = True
        self.closed = False  # set once the owning bus finished closing
        self.inflight = Inflight(options.concurrency, on_done=self._pump)
        self.unsettled: set[_WorkDelivery] = set()
        self._pending: deque[Envelope] = deque()
        self._max_pending = max_pending
        self._grace = grace

    @property
    def subject(self) -> str:
        return self._subject

    @property
    def has_slot(self) -> bool:
        return self.active and self.inflight.free > 0

    def offer(self, envelope: Envelope) -> None:
        """Fan-out: buffer an envelope (bounded) and start handlers."""
        if len(self._pending) >= self._max_pending:
            dropped = self._pending.popleft()
            log.warning("slow consumer on %s: dropped message %s", self._subject, dropped.id)
        self._pending.append(envelope)
        self._pump_fanout()

    def _pump_fanout(self) -> None:
        while self._pending and self.has_slot:
            self.start(FanoutDelivery(self._pending.popleft()))

    def start(self, delivery: FanoutDelivery | _WorkDelivery) -> None:
        self.inflight.spawn(
            run_handler(self.handler, delivery, self.options.ack_wait, self._subject)
        )

    def _pump(self) -> None:
        """A handler finished: its slot takes the next message."""
        if self.queue is not None:
            self.queue.pump()
        else:
            self._pump_fanout()

    async def unsubscribe(self) -> None:
        """Stop receiving; wait for in-flight handlers. Idempotent."""
        await self.drain()

    async def drain(self) -> None:
        """Detach, then give in-flight handlers the grace period before cancelling them."""
        if self.active:
            self.active = False
            self._pending.clear()
            self.broker.detach(self)
        await self.inflight.drain(self._grace)

    def abandon(self) -> None:
        """The bus closed: what this consumer still holds goes back to the queue now."""
        for delivery in list(self.unsettled):
            delivery.expire("ack_timeout")  # what a real broker would record
        self.closed = True


class WorkQueue:
    """The backlog and the competing consumers of one ``(subject, group)``."""

    def __init__(self, broker: Broker, subject: str, group: str) -> None:
        self.broker, self.subject, self.group = broker, subject, group
        self.backlog: list[_Message] = []  # sorted by seq: redeliveries keep their place
        self.consumers: list[Consumer] = []
        self._busy_keys: set[str] = set()
        #: The group's settings, kept from its first consumer (see ``adopt_group_settings``).
        self.settings: dict[str, float] | None = None
        self._rr = 0
        self._timer: asyncio.TimerHandle | None = None

    def put(self, msg: _Message) -> None:
        bisect.insort(self.backlog, msg, key=lambda m: m.seq)
        self.pump()

    def pump(self) -> None:
        """Hand eligible messages to consumers with a free slot, round robin."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        while self.backlog and any(c.has_slot for c in self.consumers):
            msg, due = self._eligible(loop.time())
            if msg is None:
                if due is not None:
                    self._timer = loop.call_at(due, self.pump)
                return
            consumer = self._free_consumer()
            if consumer is None:
                return
            self.backlog.remove(msg)
            if msg.envelope.key is not None:
                self._busy_keys.add(msg.envelope.key)
            msg.deliveries += 1
            consumer.start(_WorkDelivery(self, msg, consumer))

    def _free_consumer(self) -> Consumer | None:
        n = len(self.consumers)
        for i in range(n):
            consumer = self.consumers[(self._rr + i) % n]
            if consumer.has_slot:
                self._rr = (self._rr + i + 1) % n
                return consumer
        return None

    def _eligible(self, now: float) -> tuple[_Message | None, float | None]:
        blocked = set(self._busy_keys)
        due: float | None = None
        for msg in self.backlog:
            key = msg.envelope.key
            if key is not None and key in blocked:
                continue
            if msg.not_before > now:
                due = msg.not_before if due is None else min(due, msg.not_before)
                if key is not None:
                    blocked.add(key)  # later messages of this key wait for it
                continue
            return msg, None
        return None, due

    def _release(self, msg: _Message) -> None:
        if msg.envelope.key is not None:
            self._busy_keys.discard(msg.envelope.key)

    def done(self, msg: _Message) -> None:
        self._release(msg)
        self.pump()

    def retry(self, msg: _Message, code: str, delay: float, options: SubscribeOptions) -> None:
        self._release(msg)
        if msg.deliveries >= options.max_deliver:
            detail = f"not acknowledged after {msg.deliveries} deliveries"
            self.dead_letter(msg, code, detail, options)
            return
        msg.not_before = asyncio.get_running_loop().time() + max(delay, 0.0)
        self.put(msg)

    def dead_letter(self, msg: _Message, code: str, detail: str, options: SubscribeOptions) -> None:
        self._release(msg)
        env = msg.envelope
        dlq = options.dead_letter_subject(env.subject)
        log.info("dead-lettered %s from %s to %s (%s)", env.id, env.subject, dlq, code)
        self.broker.route(dead_letter(env, dlq, code, detail, msg.deliveries))
        self.pump()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Broker:
    """Routes envelopes by exact subject to fan-out consumers and work queues."""

    def __init__(self, name: str, *, max_retained: int = 10_000) -> None:
        self.name = name
        self._max_retained = max_retained
        self._fanout: dict[str, list[Consumer]] = {}
        self._queues: dict[str, dict[str, WorkQueue]] = {}
        self._retained: dict[str, deque[Envelope]] = {}
        self._seq: Callable[[], int] = itertools.count().__next__

    def route(self, envelope: Envelope) -> None:
        subject = envelope.subject
        for consumer in list(self._fanout.get(subject, ())):
            consumer.offer(envelope)
        groups = self._queues.get(subject)
        if groups:
            for queue in list(groups.values()):
                queue.put(_Message(envelope, self._seq()))
        elif not subject.startswith(INBOX_PREFIX):
            retained = self._retained.setdefault(subject, deque())
            if len(retained) >= self._max_retained:
                dropped = retained.popleft()
                log.warning("retention full on %s: dropped message %s", subject, dropped.id)
            retained.append(envelope)

    def has_responders(self, subject: str) -> bool:
        """True when a fan-out subscriber or a live group consumer listens on ``subject``."""
        if self._fanout.get(subject):
            return True
        return any(q.consumers for q in self._queues.get(subject, {}).values())

    def attach(self, consumer: Consumer) -> None:
        if consumer.group is None:
            self._fanout.setdefault(consumer.subject, []).append(consumer)
            return
        groups = self._queues.setdefault(consumer.subject, {})
        queue = groups.get(consumer.group)
        if queue is None:
            queue = groups[consumer.group] = WorkQueue(self, consumer.subject, consumer.group)
            for envelope in self._retained.pop(consumer.subject, ()):
                queue.backlog.append(_Message(envelope, self._seq()))
        if queue.settings is None:
            queue.settings = {name: getattr(consumer.options, name) for name in GROUP_SETTINGS}
        else:
            where = f"group {consumer.group!r} on {consumer.subject!r}"
            consumer.options = adopt_group_settings(consumer.options, queue.settings, where)
        consumer.queue = queue
        queue.consumers.append(consumer)
        queue.pump()

    def detach(self, consumer: Consumer) -> None:
        if consumer.queue is None:
            subs = self._fanout.get(consumer.subject, [])
            if consumer in subs:
                subs.remove(consumer)
            if not subs:
                self._fanout.pop(consumer.subject, None)
        elif consumer in consumer.queue.consumers:
            consumer.queue.consumers.remove(consumer)

    def close(self) -> None:
        """Cancel timers (used when resetting brokers between tests)."""
        for groups in self._queues.values():
            for queue in groups.values():
                queue.close()
