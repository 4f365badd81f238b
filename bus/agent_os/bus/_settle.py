"""Settle once: the rule every work delivery follows, written once.

A work delivery is settled at most once, by ``ack``, ``nack`` or ``reject``;
a second call does nothing, and a call after its bus closed raises
:class:`~agent_os.bus.BusClosed`. A ``nack`` on the last allowed attempt
(``max_deliver``) dead-letters instead of redelivering. A backend's delivery
says only how each of those reaches its broker.
"""

from __future__ import annotations

from ._errors import BusClosed


class SettleOnce:
    """Base of a backend's work delivery; subclasses fill in the broker's side."""

    settled: bool

    @property
    def attempt(self) -> int:
        raise NotImplementedError

    def _closed(self) -> bool:
        """Whether the delivery's bus (or subscription) is closed."""
        return False

    def _forget(self) -> None:
        """Drop the delivery from its subscription's unsettled set."""

    def _max_deliver(self) -> int:
        raise NotImplementedError

    async def _ack(self) -> None:
        raise NotImplementedError

    async def _redeliver(self, error_code: str, delay: float) -> None:
        raise NotImplementedError

    async def _dead_letter(self, error_code: str, detail: str) -> None:
        raise NotImplementedError

    def _settle(self) -> bool:
        if self._closed():
            raise BusClosed("cannot settle a delivery after its bus was closed")
        if self.settled:
            return False
        self.settled = True
        self._forget()
        return True

    async def ack(self) -> None:
        if self._settle():
            await self._ack()

    async def nack(self, error_code: str = "nack", *, delay: float = 0.0) -> None:
        if not self._settle():
            return
        if self.attempt >= self._max_deliver():
            detail = f"not acknowledged after {self.attempt} deliveries"
            await self._dead_letter(error_code, detail)
        else:
            await self._redeliver(error_code, delay)

    async def reject(self, error_code: str, detail: str = "") -> None:
        if self._settle():
            await self._dead_letter(error_code, detail)
