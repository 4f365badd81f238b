"""The bus protocol every backend implements.

Two delivery shapes share one ``subscribe``:

* ``group=None`` — fan-out: every subscriber gets every message published
  after it subscribed. Used for reply subjects and control events
  (revocation). Deliveries need no ack (``ack`` is allowed and does nothing).
* ``group="name"`` — work queue: subscribers with the same group compete, each
  message goes to one of them, at least once. A delivery must be acked;
  ``nack`` redelivers; a delivery neither acked nor nacked within
  ``ack_wait`` seconds is redelivered to another consumer (a crashed worker);
  after ``max_deliver`` deliveries the message goes to the dead-letter
  subject with its last error code. Messages published to a work-queue
  subject before any consumer joined are kept until one does.

Request/reply: ``request`` publishes with a ``reply_to`` private to this bus
client and waits for the envelope whose ``correlation_id`` is the request's
id (and that the caller's ``accept`` test takes, when one is given). A
responder answers by publishing ``delivery.envelope.reply(body)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._envelope import Envelope

DEFAULT_MAX_PAYLOAD = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SubscribeOptions:
    """How a work-queue subscription treats failures."""

    #: Seconds a delivery may stay unacknowledged before it is redelivered. Short,
    #: so a crashed consumer's work moves well inside a requester's deadline (the
    #: KernelClient waits 5 s); a handler that works longer keeps its lease
    #: renewed while it runs (see ``_lease``).
    ack_wait: float = 2.0
    #: Deliveries before a message is dead-lettered.
    max_deliver: int = 5
    #: Where dead letters go; default ``<subject>.dlq``.
    dead_letter: str | None = None
    #: Deliveries handled at once by this subscription.
    concurrency: int = 64

    def dead_letter_subject(self, subject: str) -> str:
        return self.dead_letter or f"{subject}.dlq"


@runtime_checkable
class Delivery(Protocol):
    """One delivery of an envelope to a subscriber."""

    @property
    def envelope(self) -> Envelope: ...

    @property
    def attempt(self) -> int:
        """1 on first delivery, 2 on the first redelivery, and so on."""
        ...

    @property
    def origin(self) -> str | None:
        """Where the broker keeps this message: the same for every redelivery of it.

        A stream sequence, a stream entry id, a partition and offset, a queue
        message id — assigned by the broker, so the same bytes published
        again get another. None for fan-out deliveries.
        """
        ...

    async def ack(self) -> None:
        """The message is done; it will not be delivered again."""

    async def nack(self, error_code: str = "nack", *, delay: float = 0.0) -> None:
        """Processing failed; redeliver (or dead-letter after ``max_deliver``)."""

    async def reject(self, error_code: str, detail: str = "") -> None:
        """The message can never succeed: dead-letter it now with ``error_code``."""


Handler = Callable[[Delivery], Awaitable[None]]


@runtime_checkable
class Subscription(Protocol):
    @property
    def subject(self) -> str: ...

    async def unsubscribe(self) -> None:
        """Stop receiving. In-flight deliveries may still be acked."""


@runtime_checkable
class Bus(Protocol):
    """An async message bus. Obtain one with :func:`agent_os.bus.connect`."""

    @property
    def url(self) -> str: ...

    @property
    def max_payload(self) -> int: ...

    async def publish(self, envelope: Envelope) -> None:
        """Send an envelope. Raises ``PayloadTooLarge`` past ``max_payload``."""

    async def subscribe(
        self,
        subject: str,
        handler: Handler,
        *,
        group: str | None = None,
        options: SubscribeOptions | None = None,
    ) -> Subscription:
        """Call ``handler`` for each delivery on ``subject``."""
        ...

    async def request(
        self,
        envelope: Envelope,
        timeout: float,
        *,
        accept: Callable[[Envelope], bool] | None = None,
    ) -> Envelope:
        """Publish and wait for the reply; ``BusTimeout`` after ``timeout`` s.

        With ``accept``, a reply it answers False for is dropped and the wait
        goes on: anyone who can publish on the reply subject can answer first.
        """
        ...

    async def reply_address(self, envelope: Envelope) -> str:
        """The ``reply_to`` that ``request(envelope)`` gives ``envelope``.

        A requester that signs this address into the request binds where the
        answer may go: a responder that reads it from the signed body sends
        there, whatever ``reply_to`` a copy of the request carries.
        """
        ...

    def is_reply_address(self, address: str) -> bool:
        """Whether ``address`` lies in this bus's reply namespace.

        Every ``reply_to`` that ``request`` gives lies there (NATS: the client's
        inbox prefix, ``_INBOX.`` by default; Redis: ``reply:``; Kafka:
        ``agentos.reply.``; SQS and memory: ``_inbox.``). A responder answers
        only such addresses: a ``reply_to`` naming a work, audit or control
        subject (or ``$JS.API.*``) would make it publish there with its own
        broker rights.
        """
        ...

    async def close(self) -> None:
        """Stop subscriptions, finish in-flight acks, release connections.

        Idempotent.
        """
