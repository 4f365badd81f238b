"""Kafka subscriptions: a consumer, its fetch loop, a worker pool and offset bookkeeping.

Work queue (``group="name"``): one consumer in Kafka group ``name`` with
manual commits. Each fetched offset is tracked per partition; the committed
offset only moves past an offset once that delivery is settled (acked,
re-produced after a nack or an ack timeout, or dead-lettered), and never past
an unsettled one. Commits run in one background task that coalesces every
ack since the previous commit into a single OffsetCommit, so the ack itself
costs no round trip. Closing does not commit unsettled offsets: they are
redelivered to the group's other consumers after the rebalance (the crash
path). On a rebalance the partitions being revoked stop dispatching, their
running handlers get ``drain_timeout`` seconds to settle, and what is settled
is committed before the partitions move, so a healthy rebalance causes no
duplicates.

Fan-out (``group=None``): a consumer without a group, assigned every
partition of the topic and positioned at the end offsets read during
``subscribe``, so it sees exactly the messages published afterwards without
waiting for a group join.

Handlers run on ``concurrency`` long-lived worker tasks (no task per
message). Messages with the same key are handed out one at a time, in
partition order: a key's next message starts after the previous handler
returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from .._dead_letter import dead_letter
from .._delivery import FanoutDelivery
from .._envelope import Envelope
from .._errors import BusError, MalformedEnvelope
from .._lease import run_handler
from .._protocol import Handler, SubscribeOptions
from ._kafka_codec import decode_record, kafka_errors
from ._kafka_delivery import Partition, WorkDelivery

log = logging.getLogger("agent_os.bus.kafka")

_COMMIT_TIMEOUT = 3.0
_CANCEL_GRACE = 5.0


class Host(Protocol):
    """What a subscription needs from its bus."""

    def new_consumer(self, group: str | None) -> AIOKafkaConsumer: ...

    async def partitions(self, topic: str) -> set[int]: ...

    async def resend(
        self, envelope: Envelope, *, attempt: int = 1, origin: str | None = None
    ) -> None:
        """Produce ``envelope`` to its subject's topic (a redelivery or a dead letter)."""


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sub: KafkaSubscription) -> None:
        self._sub = sub

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._sub.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._sub.assigned(assigned)


Item = tuple["Partition | None", Any]


class KafkaSubscription:
    """A fan-out (``group=None``) or work-queue subscription on one topic."""

    def __init__(
        self,
        host: Host,
        subject: str,
        topic: str,
        handler: Handler,
        group: str | None,
        options: SubscribeOptions,
        *,
        drain_timeout: float,
    ) -> None:
        self.host, self._subject, self._topic = host, subject, topic
        self._handler, self._group, self.options = handler, group, options
        self._drain_timeout = drain_timeout
        self._consumer = host.new_consumer(group)
        self._parts: dict[TopicPartition, Partition] = {}
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._keyed: dict[tuple[int, bytes], deque[Item]] = {}
        self._held = 0  # records fetched and not yet finished by a worker
        self._running = 0  # handlers running now
        self._room = asyncio.Event()
        self._idle = asyncio.Event()
        self._joined = asyncio.Event()
        self._commit_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self.unsettled: set[WorkDelivery] = set()
        self._accepting = True
        self.closed = False
        self._stopped: asyncio.Future[None] | None = None

    @property
    def subject(self) -> str:
        return self._subject

    async def start(self, join_timeout: float) -> None:
        """Start consuming; for a group, wait (up to ``join_timeout`` s) for the first join."""
        consumer = self._consumer
        with kafka_errors(f"subscribe to {self._subject!r}"):
            partitions = await self.host.partitions(self._topic)
            await consumer.start()
            try:
                if self._group is None:
                    tps = [TopicPartition(self._topic, p) for p in sorted(partitions)]
                    consumer.assign(tps)
                    ends = await consumer.end_offsets(tps)
                    for tp in tps:
                        consumer.seek(tp, ends[tp])
                else:
                    consumer.subscribe([self._topic], listener=_Listener(self))
            except BaseException:
                await _stop_consumer(consumer)
                raise
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._fetch_loop())]
        self._tasks += [loop.create_task(self._worker()) for _ in range(self.options.concurrency)]
        if self._group is not None:
            self._tasks.append(loop.create_task(self._commit_loop()))
            try:
                async with asyncio.timeout(join_timeout):
                    await self._joined.wait()
            except TimeoutError:
                log.warning(
                    "group %s on %s not joined after %ss; messages wait for the join",
                    self._group,
                    self._topic,
                    join_timeout,
                )

    # -- rebalance ---------------------------------------------------------

    def assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            self._parts[tp] = Partition(tp)
        self._joined.set()

    async def revoked(self, revoked: set[TopicPartition]) -> None:
        parts = [p for tp in revoked if (p := self._parts.pop(tp, None)) is not None]
        for part in parts:
            part.revoked = True
            if part.active:
                part.drained = asyncio.Event()
        waits = [part.drained.wait() for part in parts if part.drained is not None]
        if waits:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._drain_timeout):
                    await asyncio.gather(*waits)
        for delivery in [d for d in self.unsettled if d.part.revoked]:
            delivery.take_back()
        await self._commit(parts)

    # -- fetching and dispatch ---------------------------------------------

    async def _fetch_loop(self) -> None:
        consumer, limit = self._consumer, self.options.concurrency
        while True:
            room = limit - self._held
            if room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            try:
                batch = await consumer.getmany(timeout_ms=1000, max_records=room)
            except KafkaError as exc:
                log.warning("fetch from %s failed (retrying): %s", self._topic, exc)
                await asyncio.sleep(0.2)
                continue
            group = self._group is not None
            for tp, records in batch.items():
                part = self._parts.get(tp) if group else None
                if group and part is None:
                    if tp not in consumer.assignment():
                        continue  # revoked between fetch and now; the next owner reads it
                    part = self._parts[tp] = Partition(tp)  # fetched before the callback ran
                for record in records:
                    if part is not None:
                        part.pending.append(record.offset)
                    self._held += 1
                    self._dispatch((part, record))

    def _dispatch(self, item: Item) -> None:
        record = item[1]
        if record.key is not None:
            slot = (record.partition, record.key)
            waiting = self._keyed.get(slot)
            if waiting is not None:
                waiting.append(item)
                return
            self._keyed[slot] = deque()
        self._queue.put_nowait(item)

    async def _worker(self) -> None:
        while True:
            part, record = await self._queue.get()
            while True:
                if self._accepting and (part is None or not part.revoked):
                    await self._handle(part, record)
                self._held -= 1
                self._room.set()
                if record.key is None:
                    break
                slot = (record.partition, record.key)
                waiting = self._keyed[slot]
                if not waiting:
                    del self._keyed[slot]
                    break
                part, record = waiting.popleft()

    async def _handle(self, part: Partition | None, record: Any) -> None:
        try:
            env, attempt, origin = decode_record(record)
        except MalformedEnvelope as exc:
            if part is not None:
                await self._dead_letter_raw(part, record, exc)
            else:
                log.warning("skipped a record on %s: %s", self._topic, exc)
            return
        self._running += 1
        self._idle.clear()
        try:
            if part is None:
                fanout = FanoutDelivery(env)
                await run_handler(self._handler, fanout, self.options.ack_wait, self._subject)
                return
            await self._handle_work(WorkDelivery(self, part, record.offset, env, attempt, origin))
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()

    async def _dead_letter_raw(self, part: Partition, record: Any, exc: MalformedEnvelope) -> None:
        """A record that is no envelope: dead-letter what it holds, then move past it."""
        tp = part.tp
        raw = Envelope(
            self._subject, record.value or b"", id=f"{tp.topic}-{tp.partition}-{record.offset}"
        )
        try:
            await self.dead_letter(raw, exc.code, str(exc), 1)
        except BusError as error:
            log.warning("could not dead-letter a malformed record on %s: %s", self._topic, error)
        self.finish(part, record.offset)

    async def _handle_work(self, delivery: WorkDelivery) -> None:
        part = delivery.part
        loop = asyncio.get_running_loop()
        delivery.timer = loop.call_later(self.options.ack_wait, delivery.expire)
        part.active += 1
        try:
            await run_handler(self._handler, delivery, self.options.ack_wait, self._subject)
        finally:
            part.active -= 1
            if part.revoked:
                if not delivery.settled:
                    delivery.take_back()
                if not part.active and part.drained is not None:
                    part.drained.set()

    # -- settling ----------------------------------------------------------

    def finish(self, part: Partition, offset: int) -> None:
        if part.settle(offset) and not part.revoked:
            self._commit_wanted.set()

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("redelivery on %s failed; the broker will redeliver: %s", self._topic, exc)

    async def dead_letter(self, env: Envelope, code: str, detail: str, attempts: int) -> None:
        dlq = self.options.dead_letter_subject(env.subject)
        log.info("dead-lettered %s from %s to %s (%s)", env.id, env.subject, dlq, code)
        await self.host.resend(dead_letter(env, dlq, code, detail, attempts))

    async def redeliver(self, envelope: Envelope, attempt: int, origin: str) -> None:
        await self.host.resend(envelope, attempt=attempt, origin=origin)

    async def _commit_loop(self) -> None:
        while True:
            await self._commit_wanted.wait()
            self._commit_wanted.clear()
            await self._commit(list(self._parts.values()))

    async def _commit(self, parts: list[Partition]) -> None:
        offsets = {p.tp: p.position for p in parts if p.position > p.committed}
        if not offsets:
            return
        try:
            # aiokafka retries retriable commit errors forever (a restarted broker
            # answers UnknownTopicOrPartition until the topic is back): bound it.
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel.
            async with asyncio.timeout(_COMMIT_TIMEOUT):
                await self._consumer.commit(offsets)
        except (KafkaError, AssertionError, TimeoutError) as exc:
            # A rebalance or a broker restart: uncommitted offsets are redelivered.
            log.warning("offset commit on %s failed: %r", self._topic, exc)
            return
        for part in parts:
            part.committed = max(part.committed, offsets.get(part.tp, -1))

    # -- shutdown ----------------------------------------------------------

    async def unsubscribe(self) -> None:
        """Stop fetching, let running handlers finish (``drain_timeout``), commit what is
        settled, and leave the group. Unsettled records are left to the group."""
        if self._stopped is not None:
            await asyncio.shield(self._stopped)
            return
        self._stopped = asyncio.get_running_loop().create_future()
        try:
            await self._shutdown()
        finally:
            self._stopped.set_result(None)

    async def _shutdown(self) -> None:
        self._accepting = False
        fetcher, rest = self._tasks[:1], self._tasks[1:]
        await _cancel(fetcher)
        if self._running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._drain_timeout):
                    await self._idle.wait()
        await _cancel(rest + list(self._background))
        for delivery in list(self.unsettled):
            delivery.take_back()
        self.closed = True
        await self._commit(list(self._parts.values()))
        await _stop_consumer(self._consumer)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait for them, but not forever: a handler that swallows
    its cancellation must not hang ``close``."""
    for task in tasks:
        task.cancel()
    if tasks:
        _, stuck = await asyncio.wait(tasks, timeout=_CANCEL_GRACE)
        if stuck:
            log.warning("%d task(s) ignored their cancellation", len(stuck))


async def _stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop ``consumer``; aiokafka re-raises a CancelledError of its own internal task
    when stopped right after start, which must not look like our cancellation."""
    current = asyncio.current_task()
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        if current is not None and current.cancelling():
            raise
    except KafkaError as exc:
        log.debug("consumer stop: %s", exc)
