"""What every backend's bus shares: its URL, its payload limit and its open / closing state."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace

from .._envelope import Envelope
from .._errors import BusClosed, BusTimeout, ConfigError, PayloadTooLarge
from .._protocol import Handler, SubscribeOptions, Subscription
from .._waiters import Accept, Waiters


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
        self._waiters = Waiters()

    @property
    def url(self) -> str:
        return self._url

    @property
    def max_payload(self) -> int:
        return self._max_payload

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def connected(self) -> bool:
        """Whether the bus can reach its broker now, as far as its client knows.

        Open and not closing, by default; a backend whose client tracks its
        connection (NATS) says more. Readiness probes read it.
        """
        return not self._closing and not self._closed.is_set()

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

    @property
    def refused_replies(self) -> int:
        """Replies a request's ``accept`` test turned down (rogue or foreign answers)."""
        return self._waiters.refused

    async def _wait_reply(
        self,
        envelope: Envelope,
        key: str,
        timeout: float,
        accept: Accept | None,
        send: Callable[[], Awaitable[None]],
    ) -> Envelope:
        """Register a waiter under ``key``, ``send`` the request, await an accepted reply.

        Replies reach the waiter through ``self._waiters.offer``; one that
        ``accept`` refuses is dropped and the wait goes on until ``timeout``.
        """
        waiter = self._waiters.add(key, envelope.subject, accept)
        try:
            async with asyncio.timeout(timeout):
                await send()
                return await waiter.future
        except TimeoutError:
            raise BusTimeout(
                f"no reply on {envelope.subject!r} within {timeout}s (request {envelope.id})"
            ) from None
        finally:
            self._waiters.remove(key)

    async def subscribe(
        self,
        subject: str,
        handler: Handler,
        *,
        group: str | None = None,
        options: SubscribeOptions | None = None,
    ) -> Subscription:
        """Call ``handler`` for each delivery on ``subject`` (see the ``Bus`` protocol)."""
        self._check_open()
        return await self._subscribe(subject, handler, group, checked_options(options))

    async def _subscribe(
        self, subject: str, handler: Handler, group: str | None, opts: SubscribeOptions
    ) -> Subscription:
        """The backend's subscription, with ``opts`` already checked."""
        raise NotImplementedError

    def _fail_waiting(self) -> None:
        """End the requests still waiting for a reply: the bus is closing under them."""
        self._waiters.fail_all(self._url)


log = logging.getLogger("agent_os.bus")


def adopt_ack_wait(options: SubscribeOptions, existing: float, shared: str) -> SubscribeOptions:
    """``options`` with the ``ack_wait`` the group already has on the broker.

    Every member of a group must redeliver after the same time, and one
    member started with another value must not change it for the fleet (nor
    assume a value the broker does not apply): the first member's setting
    stays, a differing newcomer adopts it and says so, naming both values.
    """
    if math.isclose(existing, options.ack_wait, rel_tol=1e-3, abs_tol=1e-3):
        return options
    log.warning(
        "%s already has ack_wait %.3g s; this subscriber asked for %.3g s and adopts "
        "%.3g s (to change it for the fleet, remove the group's settings on the broker)",
        shared, existing, options.ack_wait, existing,
    )  # fmt: skip
    return replace(options, ack_wait=existing)


def checked_options(options: SubscribeOptions | None) -> SubscribeOptions:
    """``options`` (or the defaults), refused with ``ConfigError`` when they make no sense."""
    opts = options or SubscribeOptions()
    if opts.concurrency < 1 or opts.max_deliver < 1 or opts.ack_wait <= 0:
        raise ConfigError(f"invalid subscribe options: {opts}")
    return opts
