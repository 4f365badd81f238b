"""The review desk: answers agents waiting on held actions, from the shared store.

Every kernel worker with a review store runs a desk, and so does the console;
they hold no review state of their own. An agent waiting on a ticket sends a
signed long-poll request on :data:`WAIT_SUBJECT` (a work queue: one desk takes
it and acks at once, so a desk that dies costs the agent one poll, never the
review). The desk reads the item from the store and answers at once when it
is settled (or expired), or keeps the request until the item settles, the
deadline passes or the poll window ends (then it answers "still pending" and
the agent asks again). The answer is a verdict signed by the desk's kernel
key, bound to the held request's id.

A desk learns that an item settled from a notice on :data:`DECIDED_SUBJECT`
(fan-out: whoever takes a decision publishes the ticket there) and, in case a
notice is lost or a decision was written with no bus at all, by re-reading
the store every ``poll`` seconds for the tickets it is holding.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent_os.audit import AuditEvent
from agent_os.bus import Bus, BusError, Delivery, Envelope, Service, Subscription
from agent_os.policies import Verdict
from agent_os.trust import AgentIdentity, MalformedMessage, SignedMessage, TrustRegistry

from ._errors import ReviewError
from ._item import ReviewItem
from ._store import ReviewStore
from ._verdicts import final_verdict, outcome_event

__all__ = [
    "DECIDED_SUBJECT",
    "REVIEW_GROUP",
    "WAIT_RECIPIENT",
    "WAIT_SUBJECT",
    "ReviewDesk",
    "publish_decided",
]

log = logging.getLogger("agent_os.review")

WAIT_SUBJECT = "agentos.v1.review.wait"
DECIDED_SUBJECT = "agentos.v1.review.decided"
REVIEW_GROUP = "agentos-review"
WAIT_RECIPIENT = "agentos.review.wait"
#: Longest a desk keeps one poll before answering "still pending".
MAX_WAIT = 30.0

Record = Callable[[AuditEvent], Awaitable[None]]


async def publish_decided(bus: Bus, ticket: str) -> None:
    """Tell every desk that ``ticket`` settled (best effort: desks also re-read the store)."""
    with contextlib.suppress(BusError):
        await bus.publish(Envelope(subject=DECIDED_SUBJECT, body=ticket.encode()))


@dataclass(eq=False)
class _Waiter:
    envelope: Envelope
    agent_id: str
    request_id: str
    until: float


class ReviewDesk(Service):
    """Answers agents' waits on review tickets; see the module docstring.

    ``identity`` is a kernel key agents pin; ``registry`` knows the agents
    (their waits are signed) and the reviewers (approvals are re-verified
    before they become an allow). ``record`` receives the audit event of each
    outcome delivered (a fixed event id per ticket, so a chained store keeps
    one however many desks deliver it); ``observe`` the outcome (``approved``,
    ``denied``, ``timeout``) for metrics, once per ticket per desk.
    """

    def __init__(
        self,
        bus: Bus,
        store: ReviewStore,
        *,
        identity: AgentIdentity,
        registry: TrustRegistry,
        record: Record | None = None,
        observe: Callable[[str], None] | None = None,
        poll: float = 1.0,
    ) -> None:
        super().__init__()
        self._bus = bus
        self._store = store
        self._identity = identity
        self._registry = registry
        self._record = record
        self._observe = observe
        self._poll = poll
        self._waiters: dict[str, list[_Waiter]] = {}
        self._subscriptions: list[Subscription] = []
        self._ticker: asyncio.Task[None] | None = None
        self._audited: set[str] = set()

    @property
    def waiting(self) -> int:
        """Polls held right now."""
        return sum(len(w) for w in self._waiters.values())

    async def start(self) -> None:
        if self._subscriptions:
            return
        self._subscriptions.append(await self._bus.subscribe(DECIDED_SUBJECT, self._on_decided))
        self._subscriptions.append(
            await self._bus.subscribe(WAIT_SUBJECT, self._on_wait, group=REVIEW_GROUP)
        )
        self._ticker = asyncio.create_task(self._tick(), name="review-desk-tick")

    async def _stop(self) -> None:
        for sub in self._subscriptions:
            with contextlib.suppress(BusError):
                await sub.unsubscribe()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self._waiters.clear()

    # -- agents' polls ------------------------------------------------------------

    async def _on_wait(self, delivery: Delivery) -> None:
        # Acked at once: a poll is cheap to repeat and must not be redelivered late.
        await delivery.ack()
        envelope = delivery.envelope
        try:
            message = SignedMessage.from_bytes(envelope.body)
        except MalformedMessage:
            return
        result = self._registry.verify(message, expected_recipient=WAIT_RECIPIENT)
        if not result.valid or envelope.reply_to is None:
            log.info("review wait from %s refused: %s", message.sender_id, result.reason)
            return
        try:
            ask = json.loads(message.content)
            ticket, request_id = str(ask["ticket"]), str(ask["request_id"])
            window = min(max(float(ask.get("wait", MAX_WAIT)), 0.0), MAX_WAIT)
            signed_reply = ask.get("reply_to")
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        if isinstance(signed_reply, str) and signed_reply:
            # Answered on the reply subject the agent signed, under its poll's id: a copy
            # of the poll published with another reply subject learns nothing.
            envelope = dataclasses.replace(envelope, reply_to=signed_reply, id=message.id)
        if not self._bus.is_reply_address(envelope.reply_to or ""):
            # Answering would publish, with this desk's broker rights, wherever it says.
            log.warning("review wait from %s refused: reply_to %r is not a reply address",
                        message.sender_id, envelope.reply_to)  # fmt: skip
            return
        waiter = _Waiter(envelope, message.sender_id, request_id, time.monotonic() + window)
        try:
            item = await asyncio.to_thread(self._store.get, ticket)
        except ReviewError as exc:
            log.warning("review store unavailable for %s: %s", ticket, exc)
            return  # the agent polls again
        if item is None:
            # No such ticket in the store: the held action can never be approved.
            await self._unknown(waiter, ticket)
            return
        if item.agent_id != waiter.agent_id or item.request_id != request_id:
            return  # not this agent's ticket: no answer, as for a forged poll
        if item.status_at(time.time()).final or window <= 0:
            await self._answer(item, [waiter])
            return
        self._waiters.setdefault(ticket, []).append(waiter)

    async def _unknown(self, waiter: _Waiter, ticket: str) -> None:
        verdict = Verdict.deny("review_unknown", f"no review ticket {ticket} in the review store")
        verdict = dataclasses.replace(verdict, ticket=ticket).bound(
            waiter.request_id, self._identity.agent_id, 0.0
        )
        wire = SignedMessage.create(self._identity, waiter.agent_id, verdict.to_dict())
        with contextlib.suppress(BusError):
            await self._bus.publish(waiter.envelope.reply(wire.to_bytes()))

    async def _on_decided(self, delivery: Delivery) -> None:
        ticket = delivery.envelope.body.decode("ascii", "replace")
        if ticket in self._waiters:
            await self._settle([ticket])

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            try:
                await self._settle(list(self._waiters))
                await self._release_expired_windows()
            except Exception:
                log.exception("review desk tick failed")

    async def _settle(self, tickets: list[str]) -> None:
        if not tickets:
            return
        try:
            items = await asyncio.to_thread(self._store.many, tickets)
        except ReviewError as exc:
            log.warning("review store unavailable: %s", exc)
            return
        now = time.time()
        for item in items:
            if item.status_at(now).final:
                waiters = self._waiters.pop(item.ticket, [])
                if waiters:
                    await self._answer(item, waiters)

    async def _release_expired_windows(self) -> None:
        now = time.monotonic()
        due = [t for t, ws in self._waiters.items() if any(w.until <= now for w in ws)]
        if not due:
            return
        items = {i.ticket: i for i in await asyncio.to_thread(self._store.many, due)}
        for ticket in due:
            waiters = self._waiters.get(ticket, [])
            ready = [w for w in waiters if w.until <= now]
            rest = [w for w in waiters if w.until > now]
            if rest:
                self._waiters[ticket] = rest
            else:
                self._waiters.pop(ticket, None)
            item = items.get(ticket)
            if item is not None:
                await self._answer(item, ready)

    async def _answer(self, item: ReviewItem, waiters: list[_Waiter]) -> None:
        now = time.time()
        verdict = final_verdict(item, self._registry, now).bound(
            item.request_id, self._identity.agent_id, 0.0
        )
        for waiter in waiters:
            wire = SignedMessage.create(self._identity, waiter.agent_id, verdict.to_dict())
            with contextlib.suppress(BusError):
                await self._bus.publish(waiter.envelope.reply(wire.to_bytes()))
        if not item.status_at(now).final or item.ticket in self._audited:
            return
        if len(self._audited) > 10_000:  # a cache only: the chain dedupes by id
            self._audited.clear()
        self._audited.add(item.ticket)
        event = outcome_event(item, verdict, now)
        if self._observe is not None:
            self._observe(event.review or "denied")
        if self._record is not None:
            await self._record(event)
