"""The ``memory://`` backend: an in-process bus with the real brokers' semantics.

``memory://`` gives a private broker per ``connect``; ``memory://name`` joins
the named broker shared by every ``connect`` with that name in this process,
so a worker and a client in one process talk. Options (keyword arguments to
``connect`` or URL query parameters): ``max_payload`` (bytes), ``drain_timeout``
(seconds ``close`` waits for in-flight handlers), ``max_pending`` (fan-out
buffer per subscriber), ``max_retained`` (messages kept per subject before any
group joins; only for the broker's first ``connect``).

Request/reply decisions: ``request`` raises :class:`NoResponders` at once,
without publishing, when the subject has neither a fan-out subscriber nor a
group with a live consumer (a group whose consumers all left does not count:
a request parked there would be answered to nobody). A reply that arrives
after its request timed out is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from .._envelope import Envelope
from .._errors import ConfigError, NoResponders
from .._protocol import (
    DEFAULT_MAX_PAYLOAD,
    Delivery,
    Handler,
    SubscribeOptions,
    Subscription,
)
from ._base import BusBase, Route
from ._memory_broker import INBOX_PREFIX, Broker, Consumer
from ._options import Kind, parse_options

__all__ = ["MemoryBus", "connect", "reset_memory_brokers"]

log = logging.getLogger("agent_os.bus.memory")

_BROKERS: dict[str, Broker] = {}
_OPTION_TYPES: dict[str, Kind] = {
    "max_payload": int,
    "drain_timeout": float,
    "max_pending": int,
    "max_retained": int,
}


def reset_memory_brokers() -> None:
    """Forget every named broker (for tests). Buses already connected keep theirs."""
    for broker in _BROKERS.values():
        broker.close()
    _BROKERS.clear()


class MemoryBus(BusBase):
    """A :class:`~agent_os.bus.Bus` over an in-process :class:`Broker`."""

    reply_prefix = INBOX_PREFIX

    def __init__(
        self,
        url: str,
        broker: Broker,
        *,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        drain_timeout: float = 5.0,
        max_pending: int = 65_536,
    ) -> None:
        super().__init__(url, max_payload)
        self._broker = broker
        self._drain_timeout = drain_timeout
        self._max_pending = max_pending
        self._consumers: set[Consumer] = set()
        self._reply_subject = f"{INBOX_PREFIX}{uuid.uuid4().hex}"
        self._inbox_sub: Consumer | None = None

    async def publish(self, envelope: Envelope) -> None:
        """Route ``envelope`` to every subscriber and group of its subject."""
        self._check_open(draining_ok=True)
        self._check_envelope(envelope)
        self._broker.route(envelope)

    async def _subscribe(
        self, subject: str, handler: Handler, group: str | None, opts: SubscribeOptions
    ) -> Subscription:
        """Attach a fan-out subscriber (``group=None``) or a competing group consumer."""
        consumer = Consumer(
            self._broker,
            subject,
            handler,
            group,
            opts,
            max_pending=self._max_pending,
            grace=self._drain_timeout,
        )
        # Forget unsubscribed consumers that no longer hold anything close() must settle.
        self._consumers = {c for c in self._consumers if c.active or c.inflight or c.unsettled}
        self._consumers.add(consumer)
        self._broker.attach(consumer)
        return consumer

    async def _route_request(self, envelope: Envelope, deadline: float) -> Route:
        """Through this bus's private inbox; ``NoResponders`` at once when nobody listens."""
        if not self._broker.has_responders(envelope.subject):
            raise NoResponders(f"no subscriber on {envelope.subject!r}")
        if self._inbox_sub is None:
            self._inbox_sub = Consumer(
                self._broker,
                self._reply_subject,
                self._on_reply,
                None,
                SubscribeOptions(),
                max_pending=self._max_pending,
                grace=0.0,
            )
            self._broker.attach(self._inbox_sub)
        routed = replace(envelope, reply_to=self._reply_subject, deadline=deadline)

        async def send() -> None:
            self._broker.route(routed)

        return envelope.id, send

    async def _on_reply(self, delivery: Delivery) -> None:
        reply = delivery.envelope
        self._waiters.offer(reply.correlation_id, reply)

    async def close(self) -> None:
        """Drain in-flight handlers (up to ``drain_timeout``), then refuse further use."""
        if not await self._start_closing():
            return
        consumers = list(self._consumers)
        if self._inbox_sub is not None:
            consumers.append(self._inbox_sub)
        await asyncio.gather(*(c.drain() for c in consumers))
        for consumer in consumers:
            consumer.abandon()
        self._fail_waiting()
        self._closed.set()


async def connect(url: str, **options: Any) -> MemoryBus:
    """Open a bus on the anonymous (``memory://``) or named (``memory://name``) broker."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "memory":
        raise ConfigError(f"not a memory:// URL: {url!r}")
    settings, _ = parse_options(url, options, _OPTION_TYPES)
    max_retained = int(settings.pop("max_retained", 10_000))
    name = parts.netloc + parts.path.rstrip("/")
    if not name:
        broker = Broker("", max_retained=max_retained)
    else:
        broker = _BROKERS.get(name) or _BROKERS.setdefault(
            name, Broker(name, max_retained=max_retained)
        )
    return MemoryBus(
        url,
        broker,
        max_payload=int(settings.get("max_payload", DEFAULT_MAX_PAYLOAD)),
        drain_timeout=float(settings.get("drain_timeout", 5.0)),
        max_pending=int(settings.get("max_pending", 65_536)),
    )
