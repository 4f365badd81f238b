"""What every backend's bus shares: its URL, its payload limit and its open / closing state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from .._envelope import Envelope
from .._errors import BusClosed, ConfigError, PayloadTooLarge
from .._protocol import SubscribeOptions


class BusBase:
    """The state and checks each backend's bus keeps the same way.

    A bus is open until ``close`` starts; while it drains, handlers may still
    publish (a worker's last replies) but nothing new may start; once closed,
    every call raises :class:`BusClosed`.
    """

    def __init__(self, url: str, max_payload: int) -> None:
        self._url = url
        self._max_payload = max_payload
        self._closing = False
        self._closed = asyncio.Event()

    @property
    def url(self) -> str:
        return self._url

    @property
    def max_payload(self) -> int:
        return self._max_payload

    @property
    def closing(self) -> bool:
        return self._closing

    def _check_open(self, *, draining_ok: bool = False) -> None:
        if self._closed.is_set() or (self._closing and not draining_ok):
            raise BusClosed(f"bus {self._url} is closed")

    def _size_on_the_wire(self, envelope: Envelope) -> int:
        return envelope.size

    def _check_size(self, envelope: Envelope) -> None:
        size = self._size_on_the_wire(envelope)
        if size > self._max_payload:
            raise PayloadTooLarge(
                f"envelope of {size} bytes exceeds max_payload {self._max_payload}"
            )

    async def _start_closing(self) -> bool:
        """True for the first ``close``; a later one waits until the bus is closed."""
        if self._closing:
            await self._closed.wait()
            return False
        self._closing = True
        return True

    def _fail_waiting(self, futures: Iterable[asyncio.Future[Envelope]]) -> None:
        """End the requests still waiting for a reply: the bus is closing under them."""
        for future in futures:
            if not future.done():
                future.set_exception(BusClosed(f"bus {self._url} closed during the request"))


def checked_options(options: SubscribeOptions | None) -> SubscribeOptions:
    """``options`` (or the defaults), refused with ``ConfigError`` when they make no sense."""
    opts = options or SubscribeOptions()
    if opts.concurrency < 1 or opts.max_deliver < 1 or opts.ack_wait <= 0:
        raise ConfigError(f"invalid subscribe options: {opts}")
    return opts
