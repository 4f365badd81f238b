"""The kernel worker's hot path: judging one delivery and answering it.

Checks run cheapest-first and spend shared resources only on requests that
earned it: size, deadline, parse, revocation (control events), signature and
freshness, then the nonce (replay) and the agent's rate budget, then the
shape of ``args``, then policy. Signed revocation / rotation events on
``agentos.v1.control`` are applied the moment they arrive (see ``_control``).

Every answer is a verdict signed by the kernel key, sent to the reply subject
the request signed (see :class:`~agent_os.kernel_worker.Worker` for where it
goes otherwise); a redelivery of a request already answered gets the same
answer again, under the same reply subject and id.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace

from agent_os.audit._events import AuditEvent, AuditSink
from agent_os.audit._publisher import AuditPublisher
from agent_os.bus import Bus, BusError, Delivery, Envelope
from agent_os.observability import Decide, WorkerObserver
from agent_os.policies._policy import Policy
from agent_os.policies._types import Decision, Verdict
from agent_os.trust import (
    AgentIdentity,
    AsyncNonceStore,
    MalformedMessage,
    SignedMessage,
    TrustError,
    TrustRegistry,
    VerificationResult,
)

from ._control import ControlListener
from ._governance import Governance
from ._limits import LimiterUnavailable, Limits, RateLimiter, check_args
from ._wire import KERNEL_RECIPIENT, ActionRequest, RequestError, parse_action, sign_verdict

log = logging.getLogger("agent_os.kernel")

#: Addressee of a verdict for bytes whose sender cannot be read.
UNKNOWN_AGENT = "unknown"
_IDEMPOTENCY_ENTRIES = 10_000


class Judging:
    """The per-delivery steps of :class:`~agent_os.kernel_worker.Worker`.

    Holds no state of its own: the worker sets every attribute declared here.
    """

    _bus: Bus
    _identity: AgentIdentity
    _registry: TrustRegistry
    _policies: dict[str, Policy]
    _observer: WorkerObserver
    _deciders: dict[str, Decide]
    _verify: Callable[..., VerificationResult]
    _default: str
    _limits: Limits
    _rate: RateLimiter | None
    _nonces: AsyncNonceStore
    _control: ControlListener
    _audit: AuditSink | None
    _audit_out: AuditPublisher | None
    _governance: Governance
    _max_request_bytes: int
    _answered: OrderedDict[str, tuple[bytes, str | None, str]]
    _allow_unbound: bool
    _unbound_agents: set[str]
    verdicts: int
    expired_redeliveries: int
    redirected_replies: int
    unbound_requests: int
    bad_reply_addresses: int

    @property
    def kernel_id(self) -> str:
        return self._identity.agent_id

    async def _handle(self, delivery: Delivery) -> None:
        started = time.perf_counter()
        envelope = delivery.envelope
        try:
            await self._judge(delivery, envelope, started)
        except BusError as exc:
            self._observer.bus_error(exc)
            # The verdict could not be sent: let the bus redeliver it (the
            # client fails closed on its own deadline meanwhile).
            log.warning("request %s: bus error while answering: %s", envelope.id, exc)
            await delivery.nack(exc.code)
        except Exception:
            log.exception("request %s: unexpected error", envelope.id)
            await self._answer(envelope, None, Verdict.deny("internal_error", "kernel error"))
            await delivery.reject("internal_error", "unexpected error while judging")

    async def _judge(self, delivery: Delivery, envelope: Envelope, started: float) -> None:
        now = time.time()
        if envelope.reply_to is not None and not self._bus.is_reply_address(envelope.reply_to):
            # Answering would publish a signed verdict, with this worker's broker rights,
            # wherever an unsigned header says: an audit or control subject, $JS.API.*.
            self.bad_reply_addresses += 1
            reason = f"reply_to {envelope.reply_to!r} is not a reply address of this bus"
            log.warning("request %s: %s; dead-lettered, not answered", envelope.id, reason)
            await delivery.reject("bad_reply_to", reason)
            return
        if len(envelope.body) > self._max_request_bytes:
            reason = f"request of {len(envelope.body)} bytes exceeds {self._max_request_bytes}"
            await self._answer(envelope, None, Verdict.deny("payload_too_large", reason))
            await delivery.reject("payload_too_large", reason)
            return
        if envelope.expired(now):
            if delivery.attempt > 1:
                # A redelivery past the deadline: its agent has already denied it at its
                # own deadline and waits for nothing. Judged by nobody, answered by nobody.
                self.expired_redeliveries += 1
                log.info("request %s redelivered after its deadline: dropped", envelope.id)
            else:
                await self._answer(envelope, None, Verdict.deny("expired", "request past deadline"))
            await delivery.ack()
            return
        try:
            message = SignedMessage.from_bytes(envelope.body)
        except MalformedMessage as exc:
            await self._answer(envelope, None, Verdict.deny("malformed", str(exc)))
            await delivery.reject("malformed", str(exc))
            return

        # Only a redelivery may reuse an answer; a second first delivery of
        # the same bytes is a replay and goes through the nonce check.
        cached = self._answered.get(message.id) if delivery.attempt > 1 else None
        if cached is not None:
            wire, reply_to, request_id = cached
            await self._reply(replace(envelope, reply_to=reply_to, id=request_id), wire)
            await delivery.ack()
            return

        origin = getattr(delivery, "origin", None)
        verdict, audit_action, signed_reply = await self._decide(
            message, delivery.attempt, origin, now
        )
        elapsed_us = round((time.perf_counter() - started) * 1e6, 1)
        verdict = verdict.bound(message.id, self.kernel_id, elapsed_us)
        wire = sign_verdict(self._identity, message.sender_id, verdict)
        envelope = self._addressed(envelope, message.id, signed_reply)
        if verdict.code != "replay":  # the answer to this request id is the first copy's
            self._remember(message.id, wire, envelope)
        await self._reply(envelope, wire)
        await delivery.ack()
        self.verdicts += 1
        await self._record(audit_action, verdict)

    async def _decide(
        self, message: SignedMessage, attempt: int, origin: str | None, now: float
    ) -> tuple[Verdict, Mapping[str, object], str | None]:
        """The verdict, the action to audit, and the reply subject the request signed."""
        sender = message.sender_id
        unparsed: Mapping[str, object] = {"agent_id": sender, "action": "?"}
        if self._control.revoked(sender) is not None:
            return Verdict.deny("revoked", "request rejected: revoked"), unparsed, None
        result = self._verify(
            message, now=now, expected_recipient=KERNEL_RECIPIENT, record_nonce=False
        )
        if not result.valid:
            return Verdict.deny(result.reason, f"request rejected: {result.reason}"), unparsed, None
        # Read before the nonce check, so that every answer to authentic bytes (a replay
        # deny too) goes to the subject they signed; a malformed one is denied after it.
        try:
            request: ActionRequest | RequestError = parse_action(message)
        except RequestError as exc:
            request = exc
        bound = request.reply_to if isinstance(request, ActionRequest) else None
        if bound is not None and not self._bus.is_reply_address(bound):
            self.bad_reply_addresses += 1
            reason = f"signed reply_to {bound!r} is not a reply address of this bus"
            return Verdict.deny("bad_reply_to", reason), unparsed, None
        if bound is None and isinstance(request, ActionRequest):
            self.unbound_requests += 1
            if not self._allow_unbound:
                reason = "request signs no reply subject (a client older than the binding?)"
                return Verdict.deny("reply_unbound", reason), unparsed, None
            if sender not in self._unbound_agents and len(self._unbound_agents) < 1000:
                self._unbound_agents.add(sender)
                log.warning("agent %s signs no reply subject (older client): its verdicts "
                            "go to any copy's reply_to", sender)  # fmt: skip
        # Order matters: limits are spent only on authenticated, fresh, first-seen
        # requests, so neither a forged flood nor replayed bytes burn an agent's budget.
        try:
            # The nonce is recorded with the broker's copy of the message (its origin): a
            # redelivery of that copy passes wherever it lands, even where the broker counts
            # it as a first delivery (Kafka after a crash); the same bytes published again
            # are another copy, a replay. Without an origin, redeliveries skip the check.
            if (attempt == 1 or origin is not None) and not await self._nonces.check_and_add(
                sender, message.nonce, message.timestamp + self._registry.max_age, now, origin
            ):
                return Verdict.deny("replay", "nonce already used"), unparsed, bound
            if self._rate is not None and not await self._rate.allow(sender, now):
                return Verdict.deny("rate_limited", "agent over its request rate"), unparsed, bound
        except (TrustError, LimiterUnavailable) as exc:
            log.warning("request %s from %s: %s", message.id, sender, exc)
            return Verdict.deny(exc.code, str(exc)), unparsed, bound
        if isinstance(request, RequestError):
            return Verdict.deny(request.code, str(request)), unparsed, None
        exceeded = check_args(request.action["args"], self._limits)
        if exceeded is not None:
            return Verdict.deny(*exceeded), request.action, bound
        name = request.policy or self._default
        decide = self._deciders.get(name)
        if decide is None:
            reason = f"no policy named {name!r}"
            return Verdict.deny("unknown_policy", reason), request.action, bound
        verdict = Governance.evaluate(decide, request.action, result.capabilities)
        if verdict.decision is Decision.REVIEW:
            # Durable review: recorded and answered at once with the ticket (no waiting here).
            held = {**request.action, "request_id": request.request_id}
            terms = self._policies[name].review_terms(verdict.rule)
            verdict = (await self._governance.hold(held, verdict, wait=False, terms=terms)).verdict
        return verdict, request.action, bound

    def _addressed(self, envelope: Envelope, request_id: str, signed_reply: str | None) -> Envelope:
        """``envelope`` answered on ``signed_reply``, under the request id, if it signed one."""
        if signed_reply is None:
            return envelope
        if envelope.reply_to == signed_reply:
            # The agent waits under its request id; a copy published under another
            # envelope id is answered under the agent's (a reply's correlation id).
            return envelope if envelope.id == request_id else replace(envelope, id=request_id)
        # Another copy of the agent's bytes (or a rogue re-publishing them): the verdict
        # still goes to the agent, never to whoever published this copy.
        self.redirected_replies += 1
        log.warning("request %s: reply_to %r is not the signed %r; answered on the signed one",
                    envelope.id, envelope.reply_to, signed_reply)  # fmt: skip
        return replace(envelope, reply_to=signed_reply, id=request_id)

    async def _answer(self, envelope: Envelope, agent_id: str | None, verdict: Verdict) -> None:
        """Answer a request that could not be judged normally (always a deny).

        Without a known sender, the deny goes to the sender and request id the
        bytes claim (unverified), so the agent sees the stable code rather than
        "bad_verdict". A deny bound to a claimed id hands a forger nothing a
        forged signature would not already get.
        """
        if agent_id is None:
            agent_id, request_id = _claimed(envelope.body)
            verdict = replace(verdict, request_id=request_id)
        verdict = replace(verdict, kernel_id=self.kernel_id)
        wire = sign_verdict(self._identity, agent_id or UNKNOWN_AGENT, verdict)
        try:
            await self._reply(envelope, wire)
        except BusError as exc:  # the deny could not be sent; the client fails closed anyway
            self._observer.bus_error(exc)
        self.verdicts += 1
        await self._record({"agent_id": agent_id or UNKNOWN_AGENT, "action": "?"}, verdict)

    async def _reply(self, envelope: Envelope, wire: bytes) -> None:
        if envelope.reply_to is not None:
            await self._observer.reply(self._bus, envelope, wire)

    def _remember(self, request_id: str, wire: bytes, answered: Envelope) -> None:
        self._answered[request_id] = (wire, answered.reply_to, answered.id)
        if len(self._answered) > _IDEMPOTENCY_ENTRIES:
            self._answered.popitem(last=False)

    async def _record_event(self, event: AuditEvent) -> None:
        if self._audit is not None:
            self._audit.record(event)
        if self._audit_out is not None:
            await self._audit_out.put(event)

    async def _record(self, action: Mapping[str, object], verdict: Verdict) -> None:
        if self._audit is not None:
            await self._record_event(AuditEvent.from_verdict(action, verdict))
        elif self._audit_out is not None:  # built by the publisher, off the hot path
            await self._audit_out.put_decision(action, verdict)


def _claimed(body: bytes) -> tuple[str | None, str | None]:
    """The sender and message id ``body`` claims, unverified (the header is size-bounded)."""
    try:
        message = SignedMessage.from_bytes(body)
    except MalformedMessage:
        return None, None
    return message.sender_id, message.id
