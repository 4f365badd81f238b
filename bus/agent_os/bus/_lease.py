"""Running a handler on a delivery: its lease, and what a handler error means.

Every backend hands each delivery to :func:`run_handler`: the handler runs
under a lease (below), and a handler that raises has its delivery nacked
with ``handler_error`` unless it settled it itself; the subscription goes on.

Leases: short redelivery timeouts without cutting long work short.

A work delivery that nobody settles within ``ack_wait`` goes to another
consumer: that is how a crashed worker's requests reach a survivor, so
``ack_wait`` should be well under the time an agent waits for its verdict.
Work that legitimately takes longer (a human review, a slow model call)
must then say it is still alive. While a handler runs, :func:`leased`
renews the delivery's lease every ``ack_wait / 3`` through the backend's
``extend`` (JetStream in-progress ack, Redis re-claim by the holder, SQS
visibility extension, the memory broker's timer). A process that dies stops
renewing, and its deliveries come back after one ``ack_wait``.

Deliveries without ``extend`` (fan-out) run as they are. A renewed delivery
can outlive its consumer's hold on it (a Kafka rebalance hands the record to
another member as attempt 1): ``Delivery.origin`` lets the worker tell that
redelivery from a replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from ._errors import BusError
from ._protocol import Delivery, Handler

log = logging.getLogger("agent_os.bus")

#: Renewals per ack_wait: a lost renewal still leaves two more before the lease ends.
RENEWALS_PER_ACK_WAIT = 3


class _Lease:
    __slots__ = ("_delivery", "_interval", "_loop", "_renewal", "_timer")

    def __init__(self, delivery: Any, ack_wait: float) -> None:
        self._delivery = delivery
        self._interval = max(ack_wait / RENEWALS_PER_ACK_WAIT, 0.01)
        self._loop = asyncio.get_running_loop()
        self._renewal: asyncio.Future[None] | None = None
        self._timer = self._loop.call_later(self._interval, self._tick)

    def _tick(self) -> None:
        if getattr(self._delivery, "settled", False):
            return
        if self._renewal is None or self._renewal.done():
            self._renewal = asyncio.ensure_future(self._renew())
        self._timer = self._loop.call_later(self._interval, self._tick)

    async def _renew(self) -> None:
        try:
            await self._delivery.extend()
        except Exception as exc:  # the next tick tries again; a dead broker redelivers anyway
            log.warning("renewing the lease on %s failed: %r", self._delivery.envelope.id, exc)

    def end(self) -> None:
        self._timer.cancel()


async def run_handler(handler: Handler, delivery: Delivery, ack_wait: float, where: str) -> None:
    """Run ``handler`` on ``delivery`` under a lease; never raises for a handler error."""
    try:
        await leased(handler(delivery), delivery, ack_wait)
    except Exception:
        log.exception("handler for %s failed on message %s", where, delivery.envelope.id)
        if not getattr(delivery, "settled", True):  # fan-out deliveries settle nothing
            try:
                await delivery.nack("handler_error")
            except BusError as exc:
                log.warning("could not redeliver %s: %s", delivery.envelope.id, exc)


async def leased(run: Awaitable[None], delivery: Any, ack_wait: float) -> None:
    """Await ``run`` (a handler call on ``delivery``), renewing its lease meanwhile."""
    if not hasattr(delivery, "extend"):
        await run
        return
    lease = _Lease(delivery, ack_wait)
    try:
        await run
    finally:
        lease.end()
