"""The client side of the verifier pool: signed requests, pinned result keys.

Each request signs its reply subject (:func:`~._wire.verify_request`): workers
answer only there, so a copy of the request re-published with another reply
subject brings its publisher nothing.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from agent_os.bus import Bus, BusError, Envelope
from agent_os.trust import (
    AgentIdentity,
    PublicIdentity,
    SignedMessage,
    TrustError,
    TrustLevel,
    TrustRegistry,
)

from ._consensus import ConsensusResult
from ._errors import ConfigurationError, RemoteError
from ._wire import CMVK_SUBJECT, request_content, verify_request

log = logging.getLogger("agent_os.verifier")

#: Review tickets remembered with the request that brought them (the oldest go first).
_TICKETS = 10_000


class RemoteVerifier:
    """Sends verification requests to the pool and accepts only pinned-key results.

    A reply that is not signed by one of ``verifier_keys`` for this client and
    this request is dropped and the wait goes on (anyone who can publish on the
    reply subject can answer first); no valid reply in ``timeout`` seconds is a
    :class:`RemoteError`, as is a signed error reply. A signed ``replay`` error
    is dropped too (counted in ``dropped_replays``): another copy of these very
    bytes was taken first, and its answer comes to this reply subject.

    A result that carries a review ticket is remembered with the id of the
    request it answered (:meth:`held_request`): the review desks answer a
    wait on the ticket only about the request the item was held for.
    """

    def __init__(
        self,
        bus: Bus,
        identity: AgentIdentity,
        verifier_keys: Iterable[PublicIdentity],
        *,
        timeout: float = 60.0,
        subject: str = CMVK_SUBJECT,
    ) -> None:
        keys = list(verifier_keys)
        if not keys:
            raise ConfigurationError("a remote verifier needs at least one pinned verifier key")
        self._pinned = TrustRegistry.pinned(keys, TrustLevel.HIGH)
        self._bus = bus
        self._identity = identity
        self._timeout = timeout
        self._subject = subject
        self.dropped = 0
        self.dropped_replays = 0
        self._tickets: OrderedDict[str, str] = OrderedDict()

    def held_request(self, ticket: str) -> str | None:
        """The id of this client's request whose result carried ``ticket``, if one did."""
        return self._tickets.get(ticket)

    async def verify(
        self, prompt: str, models: Sequence[str], threshold: float, quorum: int
    ) -> ConsensusResult:
        content = request_content(prompt, tuple(models), threshold, quorum)
        try:
            envelope = await verify_request(
                self._bus, self._identity, content, timeout=self._timeout, subject=self._subject
            )
        except BusError as exc:
            raise RemoteError(f"no result from the verifier pool: {exc}", code=exc.code) from None
        found: list[dict[str, object]] = []

        def accept(reply: Envelope) -> bool:
            content = self._read(reply, envelope.id)
            if content is None:
                self.dropped += 1
                return False
            error = content.get("error")
            if isinstance(error, dict) and error.get("code") == "replay":
                self.dropped_replays += 1
                log.warning("request %s: dropped a replay error (another copy was taken first)",
                            envelope.id)  # fmt: skip
                return False
            found.append(content)
            return True

        try:
            await self._bus.request(envelope, self._timeout, accept=accept)
        except BusError as exc:
            raise RemoteError(f"no result from the verifier pool: {exc}", code=exc.code) from None
        content = found[-1]
        error = content.get("error")
        if isinstance(error, dict):
            raise RemoteError(str(error.get("message")), code=str(error.get("code")))
        try:
            result = content["result"]
            assert isinstance(result, dict)
            answer = ConsensusResult.from_dict(result)
        except (KeyError, TypeError, AssertionError):
            raise RemoteError("the pool's result has another shape", code="bad_result") from None
        if answer.review_ticket is not None and answer.review_ticket not in self._tickets:
            # The first request to bring a ticket is the one it can have been opened for
            # (a later one got it from the pool's cache).
            self._tickets[answer.review_ticket] = envelope.id
            while len(self._tickets) > _TICKETS:
                self._tickets.popitem(last=False)
        return answer

    def _read(self, reply: Envelope, request_id: str) -> dict[str, object] | None:
        try:
            message = SignedMessage.from_bytes(reply.body)
        except TrustError:
            return None
        if not self._pinned.verify(message, expected_recipient=self._identity.agent_id):
            return None
        try:
            content = message.json()
        except TrustError:
            return None
        if not isinstance(content, dict) or content.get("request_id") != request_id:
            return None
        return content
