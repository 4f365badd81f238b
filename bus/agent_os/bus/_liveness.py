"""Is the broker there now? A cheap round trip for readiness probes.

``Bus.connected`` says what a client library knows about its connection,
and only NATS's client knows much: a Redis, Kafka or SQS client learns that
its server went away at its next call. So a backend that can ask its broker
cheaply implements the optional :class:`Pingable` (NATS: a PING/PONG
flush; Redis: ``PING``; Kafka: a metadata request; SQS: a one-result
``ListQueues``), and :func:`probe` uses it, bounded by a timeout (clients
that retry on their own are cut off there). ``connected`` is read first (a
client that knows it lost its server is not asked again), and is all that
is known of a bus without ``ping``.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from ._errors import BusError
from ._protocol import Bus


@runtime_checkable
class Pingable(Protocol):
    """A bus that can ask its broker whether it is there."""

    async def ping(self) -> None:
        """One cheap round trip; raises a ``BusError`` (``ConnectError``) without an answer."""
        ...


async def probe(bus: Bus, timeout: float = 2.0) -> bool | str:
    """True when ``bus`` reaches its broker now; otherwise why not (a readiness check)."""
    if getattr(bus, "closing", False):
        return "bus closing"
    if not getattr(bus, "connected", True):  # what the client already knows costs nothing
        return "bus disconnected"
    if not isinstance(bus, Pingable):
        return True
    try:
        await asyncio.wait_for(bus.ping(), timeout)
    except TimeoutError:
        return f"broker did not answer within {timeout:g} s"
    except BusError as exc:
        return f"broker unreachable: {exc}"
    return True
