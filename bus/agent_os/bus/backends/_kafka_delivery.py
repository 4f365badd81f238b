"""Deliveries of the ``kafka://`` backend and the per-partition offset bookkeeping.

A work-queue delivery settles through :class:`~agent_os.bus._settle.SettleOnce`:
by ``ack``, by ``nack`` (the message is produced again with attempt + 1, after
``delay``), by ``reject`` or a nack on the last attempt (dead letter), or by
its ``ack_wait`` timer (re-produced as if nacked with ``ack_timeout``). Only
then does its offset count as settled for the commit. ``abandon`` (rebalance,
close) gives the record back to the broker: its offset stays uncommitted and
the group's next owner reads it.

A delivery reaches the subscription holding it through :class:`Holder`, so
this module does not import the subscription's.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable
from typing import Protocol

from aiokafka import TopicPartition

from .._envelope import Envelope
from .._settle import Holder as SettleHolder
from .._settle import SettleOnce


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


class Holder(SettleHolder, Protocol):
    """What a delivery needs from the subscription that holds it."""

    def finish(self, part: Partition, offset: int) -> None:
        """The delivery at ``offset`` is settled: its offset may be committed."""

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run ``coro`` in the background (a delayed redelivery, an ack timeout)."""

    async def redeliver(self, envelope: Envelope, attempt: int, origin: str) -> None:
        """Produce ``envelope`` again as delivery ``attempt`` of the record ``origin``."""

    async def dead_letter(self, env: Envelope, code: str, detail: str, attempts: int) -> None:
        """Produce ``env`` as a dead letter with ``code``."""


class WorkDelivery(SettleOnce):
    """One delivery of a work-queue record; settled once."""

    _sub: Holder

    def __init__(
        self,
        sub: Holder,
        part: Partition,
        offset: int,
        env: Envelope,
        attempt: int,
        origin: str | None,
    ) -> None:
        super().__init__(sub, env, attempt)
        self.part, self._offset = part, offset
        # A redelivery is produced again as a new record: it names the first record it
        # stands for. A first delivery is that record.
        tp = part.tp
        self._origin = origin or f"{tp.topic}/{tp.partition}/{offset}"
        self.timer: asyncio.TimerHandle | None = None

    @property
    def origin(self) -> str | None:
        return self._origin

    def _forget(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        super()._forget()

    async def _ack(self) -> None:
        self._sub.finish(self.part, self._offset)

    async def _redeliver(self, error_code: str, delay: float) -> None:
        if delay > 0:
            self._sub.spawn(self._produce_again(delay))
        else:
            await self._produce_again(0.0)

    async def _dead_letter(self, error_code: str, detail: str) -> None:
        await self._sub.dead_letter(self._envelope, error_code, detail, self._attempt)
        self._sub.finish(self.part, self._offset)

    async def _produce_again(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        await self._sub.redeliver(self._envelope, self._attempt + 1, self._origin)
        self._sub.finish(self.part, self._offset)

    async def extend(self) -> None:
        """Still working: the ack_wait timer starts again."""
        if not self.settled and self.timer is not None:
            self.timer.cancel()
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self._sub.options.ack_wait, self.expire)

    def expire(self) -> None:
        """ack_wait passed while the consumer is alive: settle as a nack ``ack_timeout``."""
        if not self.settled and not self._sub.closed:
            self._sub.spawn(self.nack("ack_timeout"))
