"""Settle once: the rule every work delivery follows, written once.

A work delivery is settled at most once, by ``ack``, ``nack`` or ``reject``;
a second call does nothing, and a call after its bus closed raises
:class:`~agent_os.bus.BusClosed` (``closed`` is checked before ``settled``,
so a delivery the closing bus took back also raises). A ``nack`` on the last
allowed attempt (``max_deliver``) dead-letters instead of redelivering. A
backend's delivery says only how each of those reaches its broker.
"""

from __future__ import annotations

from typing import Any, Protocol

from ._envelope import Envelope
from ._errors import BusClosed
from ._protocol import SubscribeOptions


class Holder(Protocol):
    """What a work delivery needs from the subscription that holds it."""

    options: SubscribeOptions
    #: Deliveries handed to the handler and not settled yet.
    unsettled: set[Any]

    @property
    def closed(self) -> bool:
        """Whether the subscription's bus has closed."""
        ...


class SettleOnce:
    """Base of a backend's work delivery; subclasses fill in the broker's side."""

    def __init__(self, sub: Holder, envelope: Envelope, attempt: int) -> None:
        self._sub, self._envelope, self._attempt = sub, envelope, attempt
        self.settled = False
        sub.unsettled.add(self)

    @property
    def envelope(self) -> Envelope:
        return self._envelope

    @property
    def attempt(self) -> int:
        return self._attempt

    def _forget(self) -> None:
        """Drop the delivery from its subscription's unsettled set."""
        self._sub.unsettled.discard(self)

    async def _ack(self) -> None:
        raise NotImplementedError

    async def _redeliver(self, error_code: str, delay: float) -> None:
        raise NotImplementedError

    async def _dead_letter(self, error_code: str, detail: str) -> None:
        raise NotImplementedError

    def _settle(self) -> bool:
        if self._sub.closed:
            raise BusClosed("cannot settle a delivery after its bus was closed")
        if self.settled:
            return False
        self.settled = True
        self._forget()
        return True

    def take_back(self) -> None:
        """Settled by the bus itself (closing, a lost lease): the handler's calls do nothing."""
        self.settled = True
        self._forget()

    async def ack(self) -> None:
        if self._settle():
            await self._ack()

    async def nack(self, error_code: str = "nack", *, delay: float = 0.0) -> None:
        if not self._settle():
            return
        if self._attempt >= self._sub.options.max_deliver:
            detail = f"not acknowledged after {self._attempt} deliveries"
            await self._dead_letter(error_code, detail)
        else:
            await self._redeliver(error_code, delay)

    async def reject(self, error_code: str, detail: str = "") -> None:
        if self._settle():
            await self._dead_letter(error_code, detail)
