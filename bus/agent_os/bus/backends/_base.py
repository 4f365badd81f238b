"""What every backend's bus shares: its URL, its payload limit and its open / closing state."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from .._envelope import Envelope
from .._errors import BusClosed, BusTimeout, ConfigError, MalformedEnvelope, PayloadTooLarge
from .._protocol import Handler, SubscribeOptions, Subscription
from .._waiters import Accept, Waiters
from ._options import redacted

#: How a backend routes a request: the key its reply will carry, and how to send it.
Route = tuple[str, Callable[[], Awaitable[None]]]
#: No reply address holds these: blanks, control characters, NATS wildcards.
_NOT_IN_ADDRESS = re.compile(r"[\s\x00-\x1f*>]")


class BusBase:
    """The state and checks each backend's bus keeps the same way.

    A bus is open until ``close`` starts; while it drains, handlers may still
    publish (a worker's last replies) but nothing new may start; once closed,
    every call raises :class:`BusClosed`.
    """

    def __init__(self, url: str, max_payload: int) -> None:
        self._url = url
        self._shown = redacted(url)  # for errors and logs
        #: Where this bus's replies come back, for backends with one reply subject per bus.
        self._reply_subject = ""
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
    def closed(self) -> bool:
        """True once ``close`` has finished: settling a delivery then raises ``BusClosed``."""
        return self._closed.is_set()

    @property
    def connected(self) -> bool:
        """Whether the bus can reach its broker now, as far as its client knows.

        Open and not closing, by default; a backend whose client tracks its
        connection (NATS) says more. Readiness probes read it.
        """
        return not self._closing and not self._closed.is_set()

    def _check_open(self, *, draining_ok: bool = False) -> None:
        if self._closed.is_set() or (self._closing and not draining_ok):
            raise BusClosed(f"bus {self._shown} is closed")

    #: The prefix of every reply subject of this backend (``_reply_namespace``).
    reply_prefix = ""

    #: Header names (lower-case prefixes) the backend writes on the wire itself,
    #: such as a redelivery's attempt: a caller may not set them.
    reserved_headers: tuple[str, ...] = ()

    def _size_on_the_wire(self, envelope: Envelope) -> int:
        return envelope.size

    def _check_envelope(self, envelope: Envelope) -> None:
        """Refuse an envelope the bus may not send: a reserved header, or too large."""
        if self.reserved_headers:
            for name in envelope.headers:
                if name.lower().startswith(self.reserved_headers):
                    raise MalformedEnvelope(
                        f"header {name!r} is reserved for the bus "
                        f"(names starting with {', '.join(self.reserved_headers)})",
                        code="reserved_header",
                    )
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

    async def request(
        self, envelope: Envelope, timeout: float, *, accept: Accept | None = None
    ) -> Envelope:
        """Publish with a reply address of this bus; await an accepted reply (see ``Bus``).

        The backend's ``_route_request`` says under which key the reply will come
        back and how to send; replies reach the waiter through
        ``self._waiters.offer``. One that ``accept`` refuses is dropped and the
        wait goes on until ``timeout``.
        """
        self._check_open()
        self._check_envelope(envelope)
        deadline = envelope.deadline if envelope.deadline is not None else time.time() + timeout
        key, send = await self._route_request(envelope, deadline)
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

    async def reply_address(self, envelope: Envelope) -> str:
        """The ``reply_to`` :meth:`request` gives ``envelope`` (see ``Bus``)."""
        self._check_open()
        return await self._reply_address(envelope)

    async def _reply_address(self, envelope: Envelope) -> str:
        """This backend's reply address for ``envelope``; ``_route_request`` uses the same.

        By default the one reply subject of this bus (``_reply_subject``).
        """
        return self._reply_subject

    def is_reply_address(self, address: str) -> bool:
        """Whether ``address`` lies in this bus's reply namespace (see ``Bus``)."""
        prefix = self._reply_namespace()
        return (
            len(address) > len(prefix)
            and address.startswith(prefix)
            and not _NOT_IN_ADDRESS.search(address)
        )

    def _reply_namespace(self) -> str:
        """The prefix every reply address of this backend starts with (never empty)."""
        return self.reply_prefix

    async def _route_request(self, envelope: Envelope, deadline: float) -> Route:
        """The key its reply will carry, and how to send ``envelope`` (due by ``deadline``)."""
        raise NotImplementedError

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
        self._waiters.fail_all(self._shown)


log = logging.getLogger("agent_os.bus")


#: The subscribe options a work-queue group keeps on its broker, where the broker
#: can keep them: every member of the group applies the same values. (Type, unit.)
GROUP_SETTINGS: dict[str, tuple[type[float] | type[int], str]] = {
    "ack_wait": (float, " s"),
    "max_deliver": (int, ""),
}


def adopt_group_settings(
    options: SubscribeOptions, existing: Mapping[str, float], where: str
) -> SubscribeOptions:
    """``options`` with the group settings (``GROUP_SETTINGS``) the broker already keeps.

    Every member of a group must redeliver after the same time and dead-letter
    after the same number of deliveries, and one member started with other
    values must not change them for the fleet (nor assume values the broker
    does not apply): the first member's settings stay, a differing newcomer
    adopts them and says so, naming both values. A member's ``concurrency``
    is its own (how many deliveries it handles at once), not the group's.
    """
    adopted: dict[str, Any] = {}
    for name, (kind, unit) in GROUP_SETTINGS.items():
        if name not in existing:
            continue
        have, asked = existing[name], getattr(options, name)
        if not (math.isfinite(have) and have > 0):
            continue  # not a value a member could have recorded: keep our own
        if math.isclose(have, asked, rel_tol=1e-3, abs_tol=1e-3):
            continue
        value = kind(have)
        log.warning(
            "%s already has %s %s; this subscriber asked for %s and adopts %s "
            "(to change it for the fleet, remove the group's settings on the broker)",
            where, name, f"{have:.3g}{unit}", f"{asked:.3g}{unit}", f"{have:.3g}{unit}",
        )  # fmt: skip
        adopted[name] = value
    return replace(options, **adopted) if adopted else options


def checked_options(options: SubscribeOptions | None) -> SubscribeOptions:
    """``options`` (or the defaults), refused with ``ConfigError`` when they make no sense."""
    opts = options or SubscribeOptions()
    if opts.concurrency < 1 or opts.max_deliver < 1 or opts.ack_wait <= 0:
        raise ConfigError(f"invalid subscribe options: {opts}")
    return opts
