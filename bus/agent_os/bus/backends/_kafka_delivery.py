"""Deliveries of the ``kafka://`` backend and the per-partition offset bookkeeping.

A work-queue delivery is settled at most once: by ``ack``, by ``nack`` (the
message is produced again with attempt + 1, after ``delay``), by ``reject`` or
after ``max_deliver`` (dead letter), or by its ``ack_wait`` timer (re-produced
as if nacked with ``ack_timeout``). Only then does its offset count as
settled for the commit. ``abandon`` (rebalance, close) gives the record back to
the broker: its offset stays uncommitted and the group's next owner reads it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from aiokafka import TopicPartition

from .._envelope import Envelope
from .._errors import BusClosed

#: Header naming the record a re-produced redelivery stands for (its ``origin``).
ORIGIN_HEADER = "x-agentos-origin"

if TYPE_CHECKING:
    from ._kafka_sub import KafkaSubscription


class Partition:
    """Fetched offsets of one assigned partition and how far they are settled."""

    __slots__ = ("active", "committed", "done", "drained", "pending", "position", "revoked", "tp")

    def __init__(self, tp: TopicPartition) -> None:
        self.tp = tp
        self.pending: deque[int] = deque()
        self.done: set[int] = set()
        self.position = -1  # next offset to commit; -1 until something settled
        self.committed = -1
        self.revoked = False
        self.active = 0  # handlers running
        self.drained: asyncio.Event | None = None

    def settle(self, offset: int) -> bool:
        """Mark ``offset`` settled; True when the commit position moved."""
        pending = self.pending
        if not pending or pending[0] != offset:
            self.done.add(offset)
            return False
        pending.popleft()
        last = offset
        while pending and pending[0] in self.done:
            last = pending.popleft()
            self.done.discard(last)
        self.position = last + 1
        return True


class WorkDelivery:
    """One delivery of a work-queue record; settled at most once."""

    __slots__ = ("_offset", "_sub", "attempt", "envelope", "part", "settled", "timer")

    @property
    def origin(self) -> str | None:
        # A redelivery is produced again as a new record: it names the first record it
        # stands for. (A header, so one who may produce on the topic could forge it, as
        # it could the attempt header.)
        first = self.envelope.headers.get(ORIGIN_HEADER)
        return first or f"{self.part.tp.topic}/{self.part.tp.partition}/{self._offset}"

    def __init__(
        self, sub: KafkaSubscription, part: Partition, offset: int, env: Envelope, attempt: int
    ) -> None:
        self._sub, self.part, self._offset = sub, part, offset
        self.envelope, self.attempt = env, attempt
        self.settled = False
        self.timer: asyncio.TimerHandle | None = None

    def _settle(self) -> bool:
        if self.settled:
            if self._sub.closed:
                raise BusClosed("cannot settle a delivery after its subscription was closed")
            return False  # already settled, or taken back after ack_wait / a rebalance
        self.settled = True
        if self.timer is not None:
            self.timer.cancel()
        self._sub.unsettled.discard(self)
        return True

    async def ack(self) -> None:
        if self._settle():
            self._sub.finish(self.part, self._offset)

    async def nack(self, error_code: str = "nack", *, delay: float = 0.0) -> None:
        if not self._settle():
            return
        if delay > 0 and self.attempt < self._sub.options.max_deliver:
            self._sub.spawn(self._retry(error_code, delay))
        else:
            await self._retry(error_code, 0.0)

    async def reject(self, error_code: str, detail: str = "") -> None:
        if self._settle():
            await self._sub.dead_letter(self.envelope, error_code, detail, self.attempt)
            self._sub.finish(self.part, self._offset)

    async def extend(self) -> None:
        """Still working: the ack_wait timer starts again."""
        if not self.settled and self.timer is not None:
            self.timer.cancel()
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self._sub.options.ack_wait, self.expire)

    def expire(self) -> None:
        """ack_wait passed while the consumer is alive: redeliver by re-producing."""
        if not self.settled:
            self.settled = True
            self._sub.unsettled.discard(self)
            self._sub.spawn(self._retry("ack_timeout", 0.0))

    def abandon(self) -> None:
        """The partition moved or the bus closed: the broker redelivers from the last commit."""
        self.settled = True
        if self.timer is not None:
            self.timer.cancel()
        self._sub.unsettled.discard(self)

    async def _retry(self, code: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        if self.attempt >= self._sub.options.max_deliver:
            detail = f"not acknowledged after {self.attempt} deliveries"
            await self._sub.dead_letter(self.envelope, code, detail, self.attempt)
        else:
            origin = {ORIGIN_HEADER: self.origin or ""}
            await self._sub.owner.resend(self.envelope, self.attempt + 1, origin)
        self._sub.finish(self.part, self._offset)
