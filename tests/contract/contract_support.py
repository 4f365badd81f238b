"""Backend capabilities and a recording handler for the bus contract suite.

Backend engineers: tune your row in ``CAPS`` (and say why in a comment); do
not weaken a test for one backend inside the test modules.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent_os.bus import Bus, Delivery, Envelope
from tests.eventually import eventually
from tests.servers import ALL_BACKENDS

__all__ = ["ALL_BACKENDS", "CAPS", "BackendCaps", "BusFactory", "Recorder", "eventually"]

#: ``await bus_factory(**connect_options)`` → a connected Bus, closed at test end.
BusFactory = Callable[..., Awaitable[Bus]]


@dataclass(frozen=True)
class BackendCaps:
    """Timing knobs and promises of one backend, so tests stay fast on each."""

    name: str
    #: Smallest ``ack_wait`` (s) the backend honours; redelivery tests use it.
    ack_wait: float
    #: Generous bound (s) for something that must happen (a delivery, a reply).
    timeout: float
    #: How long (s) to watch when asserting that nothing arrives.
    quiet: float
    #: A short request deadline (s) for the BusTimeout test.
    request_timeout: float
    #: Messages with the same key reach a group in publish order.
    per_key_order: bool
    #: ``request`` with nobody subscribed fails fast with NoResponders
    #: (otherwise it times out with BusTimeout).
    no_responders: bool
    #: Redeliveries may also happen without a failure (consumers must be idempotent).
    may_duplicate: bool = False
    #: A redelivery after a consumer died counts as attempt >= 2 (the broker
    #: or backend tracks deliveries across consumers).
    counts_attempts_across_crash: bool = True


CAPS: dict[str, BackendCaps] = {
    "memory": BackendCaps(
        "memory",
        ack_wait=0.2,
        timeout=3.0,
        quiet=0.3,
        request_timeout=0.2,
        per_key_order=True,
        no_responders=True,
    ),
    "nats": BackendCaps(
        "nats",
        ack_wait=0.5,
        timeout=10.0,
        quiet=0.8,
        request_timeout=0.3,
        per_key_order=False,
        no_responders=True,
    ),
    "redis": BackendCaps(
        "redis",
        ack_wait=0.5,
        timeout=10.0,
        quiet=0.8,
        request_timeout=0.3,
        per_key_order=False,
        no_responders=False,
    ),
    # ack_wait is a client-side timer (re-produce), so it can be short; a dead
    # consumer's work moves with the group rebalance (the bus URL's short
    # session timeout, tests.servers.TEST_QUERY, keeps joins near one second).
    "kafka": BackendCaps(
        "kafka",
        ack_wait=1.0,
        timeout=30.0,
        quiet=1.5,
        request_timeout=1.0,
        per_key_order=True,
        no_responders=False,
        counts_attempts_across_crash=False,
    ),
    # Visibility timeouts are whole seconds; moto hands out some duplicate receipts.
    "sqs": BackendCaps(
        "sqs",
        ack_wait=1.0,
        timeout=20.0,
        quiet=1.5,
        request_timeout=1.0,
        per_key_order=False,
        no_responders=False,
        may_duplicate=True,
    ),
}


class Recorder:
    """A handler that records what it gets and (by default) acks it."""

    def __init__(self, *, ack: bool = True) -> None:
        self.ack = ack
        self.deliveries: list[Delivery] = []
        self.times: list[float] = []

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self.times.append(time.monotonic())
        if self.ack:
            await delivery.ack()

    @property
    def bodies(self) -> list[bytes]:
        return [d.envelope.body for d in self.deliveries]

    @property
    def ids(self) -> list[str]:
        return [d.envelope.id for d in self.deliveries]

    @property
    def attempts(self) -> list[int]:
        return [d.attempt for d in self.deliveries]

    def envelopes(self) -> list[Envelope]:
        return [d.envelope for d in self.deliveries]
