"""The kernel worker: judges signed action requests taken from the bus.

Workers are stateless replicas in one consumer group. For each delivery a
worker verifies the request's signature against the trust registry, decides
with the policy, answers on the request's reply subject with a verdict signed
by the kernel key, and publishes an audit event. Whatever is wrong with a
request, the answer is a deny with a stable code; bytes that are not a request
at all are also dead-lettered. The worker itself never stops on bad input.

Checks run cheapest-first and spend shared resources only on requests that
earned it: size, deadline, parse, revocation (control events), signature and
freshness, then the nonce (replay) and the agent's rate budget, then the
shape of ``args``, then policy. Signed revocation / rotation events on
``agentos.v1.control`` are applied the moment they arrive (see ``_control``).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from agent_os.audit._events import AuditEvent, AuditSink
from agent_os.audit._publisher import AuditPublisher
from agent_os.bus import (
    Bus,
    BusError,
    Delivery,
    Envelope,
    Service,
    SubscribeOptions,
    Subscription,
    probe,
)
from agent_os.observability import Check, Decide, Metrics, WorkerObserver
from agent_os.policies._policy import Policy
from agent_os.policies._types import Decision, Verdict
from agent_os.review import ReviewDesk, ReviewQueue
from agent_os.trust import (
    AgentIdentity,
    AsyncNonceStore,
    MalformedMessage,
    MemoryNonceStore,
    NonceStore,
    SignedMessage,
    TrustError,
    TrustLevel,
    TrustRegistry,
    as_async_nonce_store,
)

from ._control import ControlListener
from ._governance import Governance
from ._limits import LimiterUnavailable, Limits, RateLimiter, check_args, check_policy_limits
from ._presence import Presence, PresenceOptions
from ._review import Approver
from ._wire import (
    ACTION_SUBJECT,
    CONTROL_SUBJECT,
    KERNEL_RECIPIENT,
    WORKER_GROUP,
    ActionRequest,
    RequestError,
    parse_action,
    sign_verdict,
)

log = logging.getLogger("agent_os.kernel")

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024
#: Addressee of a verdict for bytes whose sender cannot be read.
UNKNOWN_AGENT = "unknown"
_IDEMPOTENCY_ENTRIES = 10_000


class Worker(Service):
    """A kernel worker bound to one bus.

    ``policies`` maps policy names to policies; a request may name one, and a
    request that names an unknown policy is denied. ``default_policy`` serves
    requests that name none. With ``metrics``, every policy decision is timed
    and counted (``agent_os_policy_check_duration_seconds``,
    ``agent_os_violations_total``, ``agent_os_sigkill_total``); denies made
    before the policy runs (bad signature, replay, limits) are audited, not
    counted there.

    ``nonces`` is the replay memory, and the worker is the one place that
    records a request's nonce: the registry's own ``nonces`` (when it has
    one and ``nonces`` is not given) is used here, never checked twice.
    Without either, a process-local ``MemoryNonceStore``; replicas that share
    traffic need one shared store (``agent-os worker`` picks the bus's own:
    ``JetStreamNonceStore``, ``AsyncRedisNonceStore``; a synchronous store is
    called inline on the loop). A store with a ``ping`` is a readiness check.
    ``limits`` and ``rate_limiter`` bound what one request and one
    agent may cost (see ``_limits``). Unless ``control_subject`` is None the
    worker also listens (fan-out) for signed revocation/rotation events from
    keys at ``control_levels`` and applies them at once.

    SIGSTOP: with ``review`` (a :class:`~agent_os.review.ReviewQueue`) a held
    action is recorded in the shared review store and answered at once with
    a ``review`` verdict carrying the ticket and deadline; the worker's
    :class:`~agent_os.review.ReviewDesk` (any worker's, or the console's)
    later hands the agent the final verdict. With an ``approver`` instead the
    worker waits for it in process (tests, demos). With neither, the
    ``review`` verdict has no ticket and the agent treats it as a deny.

    With ``presence`` the worker announces itself to the other workers and
    hears theirs (see ``_presence``); one that declares a single replica
    refuses to start beside a live peer (:class:`StartupRefused` from
    :meth:`start`) and fails readiness (``replicas``) when one appears later.

    Where the verdict goes: to the reply subject the agent signed into the
    request (``reply_to`` in its content), never to a different ``reply_to``
    on the envelope: a rogue that re-publishes the agent's bytes with its own
    reply subject sends the verdict to the agent (counted in
    ``redirected_replies``). A request that signs no reply subject (a client
    older than the binding, or one built by hand) is denied ``reply_unbound``
    on its envelope's ``reply_to``, the only address it names, and counted in
    ``unbound_requests``: whoever copies its bytes would race the agent for
    its verdict. ``allow_unbound_replies`` (older clients still deployed)
    answers such a request on its envelope's ``reply_to`` as before, with a
    warning at start and once per agent. Verdicts go only into
    the bus's reply namespace (``Bus.is_reply_address``): a request whose
    envelope ``reply_to`` lies outside it is dead-lettered unanswered
    (``bad_reply_to``), one that signs such an address is denied
    ``bad_reply_to`` on its envelope's; both counted in ``bad_reply_addresses``.
    """

    def __init__(
        self,
        bus: Bus,
        *,
        identity: AgentIdentity,
        registry: TrustRegistry,
        policies: Policy | Mapping[str, Policy],
        default_policy: str | None = None,
        subject: str = ACTION_SUBJECT,
        group: str = WORKER_GROUP,
        options: SubscribeOptions | None = None,
        nonces: NonceStore | AsyncNonceStore | None = None,
        audit: AuditSink | None = None,
        publish_audit: bool = True,
        approver: Approver | None = None,
        review: ReviewQueue | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        limits: Limits | None = None,
        rate_limiter: RateLimiter | None = None,
        control_subject: str | None = CONTROL_SUBJECT,
        control_levels: tuple[TrustLevel, ...] = (TrustLevel.ADMIN,),
        metrics: Metrics | None = None,
        presence: PresenceOptions | None = None,
        allow_unbound_replies: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(policies, Policy):
            policies = {policies.name: policies}
        if not policies:
            raise ValueError("a worker needs at least one policy")
        self._bus = bus
        self._identity = identity
        self._registry = registry
        self._policies = dict(policies)
        # Metrics and spans wrap the steps as middleware: decide, verify, receive, reply.
        self._observer = WorkerObserver(metrics)
        self._observer.serving(self._policies)
        self._deciders: dict[str, Decide] = {
            n: self._observer.decide(_decider(p)) for n, p in self._policies.items()
        }
        self._verify = self._observer.verify(registry.verify)
        self._default = default_policy or next(iter(self._policies))
        if self._default not in self._policies:
            raise ValueError(f"default policy {self._default!r} is not among the policies")
        self._limits = limits or Limits()
        for policy in self._policies.values():
            check_policy_limits(policy, self._limits)
        self._rate = rate_limiter
        self._subject = subject
        self._group = group
        self._options = options or SubscribeOptions()
        if nonces is not None and registry.nonces is not None and nonces is not registry.nonces:
            raise ValueError(
                "two nonce stores: give it to the Worker or to its TrustRegistry, not both"
            )
        store = nonces if nonces is not None else registry.nonces
        self._nonce_store = store if store is not None else MemoryNonceStore()
        self._nonces = as_async_nonce_store(self._nonce_store)
        self._control_subject = control_subject
        self._control = ControlListener(registry, levels=control_levels)
        self._control_subscription: Subscription | None = None
        self._presence = (
            None
            if presence is None
            else Presence(bus, identity, registry, subject=subject, group=group, options=presence)
        )
        self._audit = audit
        # Signed by the deciding kernel's key and numbered: the sink stores nothing else.
        self._audit_out = AuditPublisher(bus, signer=identity) if publish_audit else None
        self._approver = approver
        self._governance = Governance(
            record=self._record_event, approver=approver, review=review, metrics=metrics
        )
        # Any worker's desk answers an agent waiting on a held action, from the shared store.
        self._desk = (
            None
            if review is None
            else ReviewDesk(
                bus,
                review.store,
                identity=identity,
                registry=registry,
                record=self._record_event,
                observe=None if metrics is None else metrics.observe_review,
            )
        )
        self._max_request_bytes = max_request_bytes
        # A request's answer, and the reply subject and id it went under, for redeliveries.
        self._answered: OrderedDict[str, tuple[bytes, str | None, str]] = OrderedDict()
        self._allow_unbound = allow_unbound_replies
        self._unbound_agents: set[str] = set()
        self._subscription: Subscription | None = None
        self.verdicts = 0
        #: Redelivered requests dropped because their deadline had passed.
        self.expired_redeliveries = 0
        #: Verdicts sent to the signed reply subject instead of a different envelope ``reply_to``.
        self.redirected_replies = 0
        #: Authentic requests that signed no reply subject (older clients).
        self.unbound_requests = 0
        #: Requests whose reply address lies outside the bus's reply namespace (not sent there).
        self.bad_reply_addresses = 0

    @property
    def kernel_id(self) -> str:
        return self._identity.agent_id

    @property
    def control(self) -> ControlListener:
        """The listener that verifies and applies revocation / rotation events."""
        return self._control

    @property
    def allows_unbound_replies(self) -> bool:
        """Whether a request that signs no reply subject is served (an explicit opt-out)."""
        return self._allow_unbound

    async def start(self) -> None:
        """Subscribe to the action subject; returns once the worker is consuming."""
        if self._allow_unbound and self._subscription is None:
            log.warning("kernel worker %s serves requests that sign no reply subject "
                        "(allow_unbound_replies): whoever copies one races its agent for "
                        "the verdict", self.kernel_id)  # fmt: skip
        if self._presence is not None and self._subscription is None:
            await self._presence.start()  # a single replica beside a live peer stops here
        if self._control_subscription is None and self._control_subject is not None:
            # Listen for revocations before taking requests, so none slips past.
            self._control_subscription = await self._bus.subscribe(
                self._control_subject, self._control
            )
        if self._subscription is None:
            handler = self._observer.handler(self._handle, self._bus, self._options.concurrency)
            self._subscription = await self._bus.subscribe(
                self._subject, handler, group=self._group, options=self._options
            )
            log.info("kernel worker %s consuming %s", self.kernel_id, self._subject)
        if self._desk is not None:
            await self._desk.start()

    def health_checks(self) -> dict[str, Check]:
        """Readiness checks of this worker: consuming from the bus, registry and policy loaded."""
        checks: dict[str, Check] = {
            "bus": self._bus_ready,
            "registry": self._registry_ready,
            "policy": self._policy_ready,
            "nonce_store": self._nonces_ready,
        }
        if self._presence is not None:
            checks["replicas"] = self._presence.ready
        return checks

    @property
    def presence(self) -> Presence | None:
        """This worker's announcements and the peers it hears, when enabled."""
        return self._presence

    @property
    def nonce_store(self) -> NonceStore | AsyncNonceStore:
        """Where this worker records nonces (replay protection)."""
        return self._nonce_store

    async def _nonces_ready(self) -> bool | str:
        ping = getattr(self._nonce_store, "ping", None)
        if ping is None:
            return True
        try:
            await ping()
        except TrustError as exc:
            return str(exc)
        return True

    async def _bus_ready(self) -> bool | str:
        if self._subscription is None or self._closing:
            return "not consuming"
        return await probe(self._bus)  # a round trip to the broker where the bus has one

    def _registry_ready(self) -> bool | str:
        entries = self._registry.store.all()  # a file store looks at its file first
        problem = getattr(self._registry.store, "problem", None)
        if problem:
            return f"serving the last good registry: {problem}"
        live = sum(not entry.revoked for entry in entries)
        return live > 0 or "trust registry holds no agent"

    def _policy_ready(self) -> bool | str:
        policy = self._policies.get(self._default)
        return (policy is not None and bool(policy.content_hash)) or "no default policy"

    async def _stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._observer.stopped(self._options.concurrency)
        if self._control_subscription is not None:
            await self._control_subscription.unsubscribe()
        if self._desk is not None:
            await self._desk.shutdown()
        if self._audit_out is not None:
            await self._audit_out.close()
        if self._presence is not None:
            await self._presence.close()

    # -- the hot path -------------------------------------------------------

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


def _decider(policy: Policy) -> Decide:
    def decide(action: Mapping[str, Any], capabilities: frozenset[str] | None) -> Verdict:
        return policy.evaluate(action, capabilities=capabilities)

    return decide
