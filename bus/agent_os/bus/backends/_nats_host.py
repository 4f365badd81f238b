"""What the subscriptions of the ``nats://`` backend need from their bus.

The subscription modules depend on this protocol, not on ``_nats``, so the
bus module imports them and nothing imports it back.
"""

from __future__ import annotations

from typing import Protocol

from nats.aio.client import Client
from nats.js import JetStreamContext

from .._envelope import Envelope


class Host(Protocol):
    """A subscription's view of its :class:`~agent_os.bus.backends._nats.NatsBus`."""

    nc: Client
    js: JetStreamContext
    #: Seconds ``unsubscribe`` waits for running handlers.
    drain_timeout: float
    #: Seconds a pull request waits on the server, and its idle heartbeat.
    pull_expires: float
    pull_heartbeat: float
    #: Fan-out messages buffered per subscription.
    max_pending: int

    async def ensure_stream(self, subject: str, *, refresh: bool = False) -> str:
        """The stream keeping ``subject``, created if missing."""
        ...

    async def publish_dead_letter(self, envelope: Envelope) -> None:
        """Keep a dead letter in its subject's stream; wait for the server's ack."""
